"""Inference worker, as the helmet incremental-learning example writes it (frames from numpy)."""

import json
import time

import numpy as np

from sedna.common.config import Context
from sedna.common.file_ops import FileOps
from sedna.core.incremental_learning import IncrementalLearning

from interface import Estimator

he_saved_url = Context.get_parameters("HE_SAVED_URL", '/tmp')
rsl_saved_url = Context.get_parameters("RESULT_SAVED_URL", '/tmp')
class_names = ['person', 'helmet', 'helmet_on', 'helmet_off']

FileOps.clean_folder([he_saved_url, rsl_saved_url], clean=False)


def deal_infer_rsl(model_output):
    return [box[:6] + [class_names[int(box[5])], box[6]] for box in model_output]


def run():
    input_shape = (12, 16)
    hard_example_mining = IncrementalLearning.get_hem_algorithm_from_config(threshold_img=0.9)
    incremental_instance = IncrementalLearning(estimator=Estimator, hard_example_mining=hard_example_mining)
    wanted = Context.get_parameters("wait_for_model", "")
    deadline = time.monotonic() + 30
    nframe = 0
    while time.monotonic() < deadline:
        img_rgb = np.full((12, 16, 3), nframe % 255, dtype=np.uint8)
        results, _, is_hard_example = incremental_instance.inference(
            img_rgb, post_process=deal_infer_rsl, input_shape=input_shape)
        print("RESULT " + json.dumps({"frame": nframe, "is_hard": bool(is_hard_example), "results": results}),
              flush=True)
        if results[0][-1] == wanted:
            print("MODEL UPDATED", flush=True)
        nframe += 1
        time.sleep(0.1)  # the camera's frame interval


if __name__ == '__main__':
    run()
