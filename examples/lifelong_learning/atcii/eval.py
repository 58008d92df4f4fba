"""Eval worker: scores the knowledge base on TEST_DATASET_URL and republishes its index to OUTPUT_URL.

The index comes from MODEL_URLS (the control plane passes the trained one); task models that score
badly (OPERATOR, MODEL_THRESHOLD) are dropped on the knowledge base (KB_SERVER).
"""

import json

from interface import DATACONF, Estimator, feature_process

from sedna.common.config import BaseConfig
from sedna.core.lifelong_learning import LifelongLearning
from sedna.datasources import CSVDataParse


def main():
    samples = CSVDataParse(data_type="valid", func=feature_process)
    samples.parse(BaseConfig.test_dataset_url, label=DATACONF["LABEL"])

    # task_mining=None: the older API allocates by the task definition's own attributes
    job = LifelongLearning(
        estimator=Estimator,
        task_definition={"method": "TaskDefinitionByDataAttr",
                         "param": json.dumps({"attribute": DATACONF["ATTRIBUTES"]})},
        task_relationship_discovery=None,
        task_mining=None,
        task_remodeling=None,
        inference_integrate=None,
        unseen_task_detect=None)
    return job.evaluate(data=samples, metrics="precision_score", metrics_param={"average": "micro"})


if __name__ == "__main__":
    print(main())
