"""Framework backends: one estimator contract over scikit-learn, PyTorch and TensorFlow/Keras."""
