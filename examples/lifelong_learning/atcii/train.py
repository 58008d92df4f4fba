"""Train worker: one model per (Season, cooling strategy) task, published to the knowledge base.

Reads TRAIN_DATASET_URL, OUTPUT_URL, KB_SERVER, HAS_COMPLETED_INITIAL_TRAINING (set by the control
plane) and the job's own early_stopping_rounds and metric_name.
"""

import json

from interface import DATACONF, Estimator, feature_process

from sedna.common.config import BaseConfig, Context
from sedna.core.lifelong_learning import LifelongLearning
from sedna.datasources import CSVDataParse


def main():
    samples = CSVDataParse(data_type="train", func=feature_process)
    samples.parse(BaseConfig.train_dataset_url, label=DATACONF["LABEL"])
    rounds = int(Context.get_parameters("early_stopping_rounds", 100))
    metric = Context.get_parameters("metric_name", "mlogloss")

    # the keywords of Sedna's first lifelong-learning API, as the published ATCII workers pass them
    job = LifelongLearning(
        estimator=Estimator,
        task_definition={"method": "TaskDefinitionByDataAttr",
                         "param": json.dumps({"attribute": DATACONF["ATTRIBUTES"]})},
        task_relationship_discovery=None,
        task_mining=None,
        task_remodeling=None,
        inference_integrate=None,
        unseen_task_detect=None)
    return job.train(train_data=samples, metric_name=metric, early_stopping_rounds=rounds)


if __name__ == "__main__":
    print(main())
