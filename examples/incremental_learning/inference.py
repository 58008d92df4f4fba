"""Inference pod: MODEL_URL, HEM_NAME/HEM_PARAMETERS, HE_SAVED_URL, MODEL_HOT_UPDATE* (hot swap)."""

import numpy as np
from interface import Estimator, load_index

from sedna.common.config import Context
from sedna.core.incremental_learning import IncrementalLearning


def main():
    x, y = load_index(Context.get_parameters("test_dataset_url"))
    hem = IncrementalLearning.get_hem_algorithm_from_config(threshold_margin=0.3)
    job = IncrementalLearning(estimator=Estimator, hard_example_mining=hem or None, mining_input="proba")
    hard = correct = 0
    for sample, label in zip(x, y):
        infer_res, res, is_hard = job.inference(sample[np.newaxis])
        hard += is_hard
        correct += int(res[0] == label)
    print(f"accuracy {correct / len(y):.3f}, hard examples {hard}/{len(y)}")
    job.close()  # stops hot update; hard examples left in the spool are uploaded next time


if __name__ == "__main__":
    main()
