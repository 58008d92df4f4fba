"""Train pod: TRAIN_DATASET_URL, OUTPUT_URL, KB_SERVER, HAS_COMPLETED_INITIAL_TRAINING, LC_SERVER, WORKER_NAME, JOB_NAME."""

import json

from interface import LABEL, Estimator, feature_process

from sedna.common.config import BaseConfig
from sedna.core.lifelong_learning import LifelongLearning
from sedna.datasources import CSVDataParse


def main():
    train_data = CSVDataParse(data_type="train", func=feature_process)
    train_data.parse(BaseConfig.train_dataset_url, label=LABEL)
    ll_job = LifelongLearning(
        estimator=Estimator,  # the published example's (pre-2022) keywords still work
        task_definition={"method": "TaskDefinitionByDataAttr", "param": json.dumps({"attribute": ["City"]})},
        task_relationship_discovery=None, task_mining=None, task_remodeling=None,
        inference_integrate=None, unseen_task_detect=None)
    print(ll_job.train(train_data=train_data))


if __name__ == "__main__":
    main()
