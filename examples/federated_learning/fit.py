"""Federated trainer, solar_corona style: ``collaborative_training.fit`` a PyTorch or Keras model, save it.

Same environment as train.py (AGG_IP, AGG_PORT, WORKER_NAME, TRAIN_DATASET_URL, MODEL_URL,
MODEL_NAME, BACKEND_TYPE, ...) plus the example's ``epochs``, ``batch_size``, ``learning_rate``
and ``aggregation_algorithm``. Run: python fit.py
"""

import sedna_lib
from interface import Estimator, accuracy, framework, load_samples


def main():
    """Load this node's data, train federatedly, report the test accuracy and save the model."""
    x, y = sedna_lib.load_train_dataset()
    train_loader = (load_samples(x), y.astype("int64"))
    test_url = sedna_lib.context.get_parameters("TEST_DATASET_URL")
    test_loader = None
    if test_url:
        xt, yt = sedna_lib.load_eval_dataset()
        test_loader = (load_samples(xt), yt.astype("int64"))
    model = Estimator()
    loss = sedna_lib.losses.SparseCategoricalCrossentropy(from_logits=framework() == "torch")
    metric = sedna_lib.metrics.SparseCategoricalAccuracy()
    learning_rate = float(sedna_lib.context.get_parameters("learning_rate", 0.01))
    optimizer = sedna_lib.optimizers.Adam(learning_rate=learning_rate)
    model = sedna_lib.collaborative_training.fit(
        train_loader=train_loader, test_loader=test_loader, model=model, loss=loss, metric=metric,
        optimizer=optimizer, batch_size=sedna_lib.context.get_parameters("batch_size", 32),
        epochs=sedna_lib.context.get_parameters("epochs", 1),
        aggregation_algorithm=sedna_lib.context.get_parameters("aggregation_algorithm", "FedAvg"))
    if test_loader is not None:
        print(f"test accuracy of the federated model: {accuracy(model, *test_loader):.3f}")
    if sedna_lib.context.get_parameters("MODEL_URL"):
        print(f"saved {sedna_lib.save_model(model)}")


if __name__ == "__main__":
    main()
