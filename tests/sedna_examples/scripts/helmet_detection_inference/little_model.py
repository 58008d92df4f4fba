"""Edge worker, as the helmet example writes it; frames come from numpy instead of a video stream."""

import json
import os
import time

import numpy as np

from sedna.common.config import Context
from sedna.common.file_ops import FileOps
from sedna.core.joint_inference import JointInference

from interface import Estimator

camera_address = Context.get_parameters('video_url')
all_output_path = Context.get_parameters('all_examples_inference_output')
hard_example_edge_output_path = Context.get_parameters('hard_example_edge_inference_output')
hard_example_cloud_output_path = Context.get_parameters('hard_example_cloud_inference_output')

FileOps.clean_folder([all_output_path, hard_example_cloud_output_path, hard_example_edge_output_path],
                     clean=False)


def output_deal(nframe, is_hard_example, final_result, edge_result, cloud_result):
    record = {"frame": nframe, "is_hard": bool(is_hard_example), "final": final_result,
              "edge": edge_result, "cloud": cloud_result}
    with open(os.path.join(all_output_path, f"{nframe}.json"), "w") as out:
        json.dump(record, out)
    if is_hard_example:
        with open(os.path.join(hard_example_edge_output_path, f"{nframe}.json"), "w") as out:
            json.dump(edge_result, out)
        with open(os.path.join(hard_example_cloud_output_path, f"{nframe}.json"), "w") as out:
            json.dump(cloud_result, out)
    print("RESULT " + json.dumps(record), flush=True)


def main():
    hem = JointInference.get_hem_algorithm_from_config(threshold_img=0.9)
    inference_instance = JointInference(estimator=Estimator, hard_example_mining=hem)
    frames = int(Context.get_parameters("frames", 40))
    for nframe in range(frames):
        if nframe % 10:
            continue  # the example infers every 10th frame
        img_rgb = np.full((12, 16, 3), nframe // 10, dtype=np.uint8)
        is_hard_example, final_result, edge_result, cloud_result = inference_instance.inference(img_rgb)
        output_deal(nframe, is_hard_example, final_result, edge_result, cloud_result)
    print("STREAM ENDED", flush=True)
    while True:  # the example waits for the camera to come back; the pod is stopped from outside
        time.sleep(1)


if __name__ == "__main__":
    main()
