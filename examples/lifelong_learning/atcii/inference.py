"""Inference pod: MODEL_URLS (the deployed index.pkl), EDGE_OUTPUT_URL; UTD_NAME/UTD_PARAMETERS pick the recogniser."""

import csv
import json

from interface import FEATURES, LABEL, Estimator, feature_process

from sedna.common.config import BaseConfig, Context
from sedna.core.lifelong_learning import LifelongLearning
from sedna.datasources import CSVDataParse


def main():
    utd = Context.get_parameters("UTD_NAME", "SampleRegonitionDefault")
    utd_params = json.loads(Context.get_parameters("UTD_PARAMETERS", "{}"))
    ll_service = LifelongLearning(
        estimator=Estimator,
        task_definition={"method": "TaskDefinitionByDataAttr", "param": {"attribute": ["City"]}},
        task_mining={"method": "TaskMiningByDataAttr", "param": {"attribute": ["City"]}},
        unseen_task_detect={"method": utd, "param": utd_params})
    with open(BaseConfig.test_dataset_url, newline="") as fh:
        rows = list(csv.DictReader(fh))[:20]
    unseen = 0
    for row in rows:
        infer_data = CSVDataParse(data_type="test", func=feature_process)
        infer_data.parse({"City": row["City"], **{k: float(row[k]) for k in FEATURES}}, label=None)
        rsl, is_unseen, target_task = ll_service.inference(infer_data)
        unseen += bool(is_unseen)
        print(row["City"], "preference", rsl[0], "truth", row[LABEL], "unseen" if is_unseen else "")
    print(f"{unseen} of {len(rows)} samples from unseen tasks")


if __name__ == "__main__":
    main()
