"""Inference worker: follows the CSV at infer_dataset_url and predicts each new row with its task's model.

Rows whose (Season, cooling strategy) no task was trained for are unseen: they are also written
to UTD_SAVED_URL/unseen_sample.csv for labelling. UTD_NAME picks the recogniser (TaskAttrFilter by
default) and UTD_PARAMETERS its parameters. Every row and its prediction go to
<infer_dataset_url>_out.csv. MODEL_URLS names the deployed index.
"""

import csv
import json
import os
import time

from interface import DATACONF, Estimator, feature_process

from sedna.common.config import Context
from sedna.core.lifelong_learning import LifelongLearning
from sedna.datasources import CSVDataParse


def follow(handle):
    """Yield the lines of a file as they are appended to it."""
    while True:
        position = handle.tell()
        line = handle.readline()
        if line.endswith("\n"):
            yield line
        else:
            handle.seek(position)
            time.sleep(1)


def main():
    recogniser = Context.get_parameters("UTD_NAME", "TaskAttrFilter")
    recogniser_params = Context.get_parameters("UTD_PARAMETERS", {})
    unseen_folder = Context.get_parameters("UTD_SAVED_URL", "/tmp")
    attributes = json.dumps({"attribute": DATACONF["ATTRIBUTES"]})

    service = LifelongLearning(
        estimator=Estimator,
        task_mining={"method": "TaskMiningByDataAttr", "param": attributes},
        task_definition=None,
        task_relationship_discovery=None,
        task_remodeling=None,
        inference_integrate=None,
        unseen_task_detect={"method": recogniser, "param": recogniser_params})

    source = Context.get_parameters("infer_dataset_url")
    with open(source, encoding="utf-8") as rows, \
            open(os.path.join(unseen_folder, "unseen_sample.csv"), "w", encoding="utf-8") as unseen, \
            open(f"{source}_out.csv", "w", encoding="utf-8") as out:
        header = next(csv.reader([rows.readline()]))
        for sink in (unseen, out):
            sink.write("\t".join(header + ["pred"]) + "\n")
            sink.flush()
        parser = CSVDataParse(data_type="test", func=feature_process)
        for line in follow(rows):
            values = next(csv.reader([line.strip()]))
            parser.parse(dict(zip(header, values)), label=DATACONF["LABEL"])
            result, is_unseen, _tasks = service.inference(parser)
            record = "\t".join(map(str, values + [list(result)[0]])) + "\n"
            for sink in ((unseen, out) if is_unseen else (out,)):
                sink.write(record)
                sink.flush()


if __name__ == "__main__":
    main()
