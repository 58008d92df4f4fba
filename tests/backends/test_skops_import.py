"""Loading a scikit-learn model with skops leaves torch out of a scikit-learn worker.

skops lists scikit-learn's estimators at import by walking every sklearn package, which imports
torch through ``sklearn.externals.array_api_compat.torch``: seconds at start and at exit.
"""

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("skops")
pytest.importorskip("torch")

PROBE = textwrap.dedent("""
    import sys, threading
    from sklearn.linear_model import LogisticRegression
    from sedna_lib.backends.sklearn import SklearnBackend, load_skops

    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    path = SklearnBackend(model, model_save_path=sys.argv[1], model_name="m.skops").save()
    loaded = load_skops(path)
    print("TORCH", "torch" in sys.modules, loaded.predict([[3.0]]).tolist())
    import torch  # still importable afterwards, by anyone
    from sklearn.externals.array_api_compat import torch as compat_torch
    print("LATER", torch.tensor([1.0]).item())
""")


def test_loading_a_skops_model_does_not_import_torch(tmp_path):
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True, text=True,
                          timeout=240)

    assert done.returncode == 0, done.stderr[-3000:]
    assert "TORCH False [1]" in done.stdout
    assert "LATER 1.0" in done.stdout


def test_the_skops_type_list_is_complete_without_torch():
    code = ("import sys\nfrom sedna_lib.backends.sklearn import _skops_io\n_skops_io()\n"
            "from skops.io import _trusted_types as t\nprint(len(t.SKLEARN_ESTIMATOR_TYPE_NAMES))")
    ours = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    plain = subprocess.run([sys.executable, "-c", "from skops.io import _trusted_types as t\n"
                            "print(len(t.SKLEARN_ESTIMATOR_TYPE_NAMES))"], capture_output=True, text=True,
                           timeout=240)

    assert ours.returncode == 0 and plain.returncode == 0, ours.stderr + plain.stderr
    assert ours.stdout == plain.stdout and int(ours.stdout) > 100
