"""Train pod: TRAIN_DATASET_URL, ORIGINAL_DATASET_URL, MODEL_URL, LC_SERVER, WORKER_NAME, JOB_NAME.

MODEL_URL is the model file to write (``.../model.pkl``), or a folder that gets MODEL_NAME
(``model_finetune_.pkl`` by default); the eval and inference pods read it with the same meaning.
"""

from interface import Estimator, load_index

from sedna.common.config import Context
from sedna.core.incremental_learning import IncrementalLearning


def main():
    train_data = load_index(Context.get_parameters("train_dataset_url"))
    job = IncrementalLearning(estimator=Estimator)
    job.train(train_data)  # saves to MODEL_URL and reports kind=train to the LocalController
    print(f"trained on {len(train_data[1])} samples; model saved to {job.model_path}")
    job.close()


if __name__ == "__main__":
    main()
