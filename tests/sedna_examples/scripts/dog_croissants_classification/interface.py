"""Stub dog/croissants classifier: a checkpoint file holding a version string, a scalar accuracy.

The original sets ``BACKEND_TYPE=MINDSPORE`` and builds a MindSpore network; this stub needs no
MindSpore, so it leaves the backend type to the library's default for a plain estimator.
"""


class Estimator:
    def __init__(self, **kwargs):
        self.version = "untrained"

    def train(self, train_data, base_model_url, trained_ckpt_url, valid_data=None, epochs=10, **kwargs):
        batches = sum(1 for _ in train_data.create_tuple_iterator())
        self.version = f"finetuned-from-{open(base_model_url).read()}-{batches}-batches-{epochs}-epochs"
        with open(trained_ckpt_url, "w") as out:
            out.write(self.version)
        print(f"TRAINED {self.version} valid batches {valid_data.get_dataset_size()}", flush=True)

    def save(self, model_path):
        with open(model_path, "w") as out:
            out.write(self.version)

    def load(self, model_url):
        self.version = open(model_url).read()

    def evaluate(self, data, model_path="", class_names="", input_shape=224):
        self.load(model_path)
        return 0.75 if "finetuned" in self.version else 0.5  # a scalar accuracy

    def predict(self, data, **kwargs):
        return [0.9, 0.1]
