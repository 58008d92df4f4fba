"""Eval pod: TEST_DATASET_URL, MODEL_URLS (trained;deployed), LC_SERVER, WORKER_NAME, JOB_NAME."""

from interface import Estimator, load_index

from sedna.common.config import Context
from sedna.core.incremental_learning import IncrementalLearning


def main():
    test_data = load_index(Context.get_parameters("test_dataset_url"))
    job = IncrementalLearning(estimator=Estimator)
    for entry in job.evaluate(test_data):  # reports kind=eval, metrics as {name: [float]}
        print(entry["url"], entry["metrics"])
    job.close()


if __name__ == "__main__":
    main()
