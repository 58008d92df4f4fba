"""Eval pod: TEST_DATASET_URL, MODEL_URLS (or OUTPUT_URL), KB_SERVER, OPERATOR, MODEL_THRESHOLD."""

import json

from interface import LABEL, Estimator, feature_process

from sedna.common.config import BaseConfig
from sedna.core.lifelong_learning import LifelongLearning
from sedna.datasources import CSVDataParse


def main():
    test_data = CSVDataParse(data_type="eval", func=feature_process)
    test_data.parse(BaseConfig.test_dataset_url, label=LABEL)
    ll_job = LifelongLearning(
        seen_estimator=Estimator,
        task_definition={"method": "TaskDefinitionByDataAttr", "param": json.dumps({"attribute": ["City"]})},
        task_allocation={"method": "TaskAllocationByDataAttr", "param": {"attribute": ["City"]}})
    print(ll_job.evaluate(test_data, metrics="precision_score", metrics_param={"average": "micro"}))


if __name__ == "__main__":
    main()
