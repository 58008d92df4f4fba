"""Edge worker of the detection-shaped joint-inference example: hard mosaics go to the big detector.

Configured only by the variables the control plane sets: BIG_MODEL_IP, BIG_MODEL_PORT,
SERVICE_NAME, HEM_NAME (IBT or Threshold), HEM_PARAMETERS (e.g.
'[{"key": "threshold_box", "value": "0.7"}]' with HEM_NAME=IBT), MODEL_URL, MINING_MODE,
LC_SERVER. Run: python little_detector.py
"""

import numpy as np
from interface import EdgeDetector, mosaics, split

from sedna.common.config import Context
from sedna.core.joint_inference import JointInference


def main():
    _, x_test, _, y_test = split()
    images, labels = mosaics(x_test, y_test)
    # as in Sedna's helmet-detection example, the code sets IBT's threshold_img (code wins over the CRD)
    overrides = {"threshold_img": 0.9} if Context.get_parameters("HEM_NAME", "IBT") == "IBT" else {}
    hem = (JointInference.get_hem_algorithm_from_config(**overrides)
           or {"method": "IBT", "param": {"threshold_img": 0.9, "threshold_box": 0.7}})
    job = JointInference(estimator=EdgeDetector, hard_example_mining=hem)
    edge_right = joint_right = hard = answered = 0
    for image, truth in zip(images, labels):
        is_hard, final, edge, cloud = job.inference(image)
        edge_right += int(np.sum(np.asarray(edge)[:, 5] == truth))
        joint_right += int(np.sum(np.asarray(final)[:, 5] == truth))
        hard += int(is_hard)
        answered += int(cloud is not None)
    job.close()
    boxes = labels.size
    print(f"mosaics             {len(labels)} (16x16, one box per 8x8 cell, {boxes} boxes)")
    print(f"edge-only per-box accuracy  {edge_right / boxes:.3f}")
    print(f"joint per-box accuracy      {joint_right / boxes:.3f}")
    print(f"offload ratio       {hard / len(labels):.3f} ({answered} answered by the cloud; miner {hem})")


if __name__ == "__main__":
    main()
