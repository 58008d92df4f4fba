"""Edge worker, as the answer-generation example writes it."""

import json

from sedna.common.config import Context
from sedna.common.file_ops import FileOps
from sedna.core.joint_inference import JointInference

from interface import Estimator

input_text = Context.get_parameters("input_text")
output_path = Context.get_parameters("all_examples_inference_output")
FileOps.clean_folder([output_path], clean=False)


def main():
    hem = JointInference.get_hem_algorithm_from_config()
    inference_instance = JointInference(estimator=Estimator, hard_example_mining=hem)
    is_hard_example, final_result, edge_result, cloud_result = inference_instance.inference([input_text])
    print("RESULT " + json.dumps({"is_hard": bool(is_hard_example), "final": final_result,
                                  "edge": edge_result, "cloud": cloud_result}), flush=True)


if __name__ == "__main__":
    main()
