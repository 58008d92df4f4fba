"""Saving a model never destroys the previous one: a failed write leaves it whole and raises BackendError.

The write is made to fail for real: a child process lowers its file-size limit (``RLIMIT_FSIZE``, with
``SIGXFSZ`` ignored) below the size of the new model, so the framework's writer fails partway as it does
on a full disk; a folder that is a file, or a read-only folder, refuses the write outright.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import sedna_lib
from sedna_lib.backends import EstimatorBackend
from sedna_lib.backends.loaders import load_estimator
from sedna_lib.exceptions import BackendError

resource = pytest.importorskip("resource")

# Run in a child process: save a small model, lower the file-size limit, save a big one over it,
# then report what was raised and what is left in the folder.
_CHILD = textwrap.dedent("""
    import hashlib, json, os, resource, signal, sys
    import sedna_lib
    from sedna_lib.backends.loaders import load_estimator
    from sedna_lib.exceptions import BackendError

    kind, path, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if kind == "sklearn":
        import numpy as np
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.linear_model import LogisticRegression
        x = np.random.default_rng(0).normal(size=(200, 6)); y = (x[:, 0] > 0).astype(int)
        small = LogisticRegression().fit(x, y)
        big = RandomForestClassifier(n_estimators=30, random_state=0).fit(x, y)
    else:
        import torch
        small, big = torch.nn.Linear(4, 2), torch.nn.Linear(200, 200)
    sedna_lib.save_model(small, path)
    before = hashlib.sha256(open(path, "rb").read()).hexdigest()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        sedna_lib.save_model(big, path)
        raised = None
    except BaseException as exc:
        raised = {"type": type(exc).__name__, "backend_error": isinstance(exc, BackendError),
                  "message": str(exc)}
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    after = hashlib.sha256(open(path, "rb").read()).hexdigest()
    try:
        loaded = type(load_estimator(path)).__name__ if kind == "sklearn" else None
    except Exception as exc:
        loaded = repr(exc)[:300]
    print(json.dumps({"raised": raised, "intact": before == after,
                      "files": sorted(os.listdir(os.path.dirname(path))), "loaded": loaded}))
""")


def _save_over_with_a_size_limit(kind, path, limit):
    out = subprocess.run([sys.executable, "-c", _CHILD, kind, str(path), str(limit)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _assert_failed_cleanly(result, path):
    raised = result["raised"]
    assert raised is not None, "the big model was written despite the file-size limit"
    assert raised["backend_error"], raised
    assert str(path) in raised["message"], raised["message"]
    assert result["intact"], "the previous model was damaged by the failed save"
    assert result["files"] == [path.name], result["files"]  # no temporary file is left behind


def test_a_sklearn_save_that_fails_partway_keeps_the_previous_model(tmp_path):
    path = tmp_path / "model.pkl"
    result = _save_over_with_a_size_limit("sklearn", path, 16 * 1024)

    _assert_failed_cleanly(result, path)
    assert "File too large" in result["raised"]["message"]
    assert result["loaded"] == "LogisticRegression"  # the old model still loads


@pytest.mark.torch
def test_a_torch_save_that_fails_partway_keeps_the_previous_model(tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    result = _save_over_with_a_size_limit("torch", path, 16 * 1024)

    _assert_failed_cleanly(result, path)


def _fitted():
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(0).normal(size=(40, 3))
    return LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))


def test_a_save_into_a_folder_that_is_a_file_raises_backend_error_naming_the_path(tmp_path):
    blocker = tmp_path / "models"
    blocker.write_bytes(b"not a folder")
    path = blocker / "model.pkl"

    with pytest.raises(BackendError, match="cannot save the model to .*models/model.pkl") as info:
        sedna_lib.save_model(_fitted(), str(path))

    assert isinstance(info.value.__cause__, OSError)
    assert blocker.read_bytes() == b"not a folder"


def test_a_successful_save_replaces_the_model_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "model.pkl"
    sedna_lib.save_model(_fitted(), str(path))
    os.chmod(path, 0o640)
    sedna_lib.save_model(_fitted(), str(path))

    assert sorted(os.listdir(tmp_path)) == ["model.pkl"]
    assert os.stat(path).st_mode & 0o777 == 0o640  # the replaced file keeps its permissions
    assert type(load_estimator(str(path))).__name__ == "LogisticRegression"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="permissions do not stop root")
def test_a_read_only_folder_raises_backend_error_and_keeps_the_model(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    os.chmod(folder, 0o555)
    try:
        with pytest.raises(BackendError, match="cannot save the model to .*models/model.pkl") as info:
            sedna_lib.save_model(_fitted(), str(folder / "model.pkl"))
        assert isinstance(info.value.__cause__, PermissionError)
        assert os.listdir(folder) == []
    finally:
        os.chmod(folder, 0o755)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="permissions do not stop root")
def test_a_writable_model_in_a_read_only_folder_is_still_overwritten(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    path = folder / "model.pkl"
    sedna_lib.save_model(_fitted(), str(path))
    os.chmod(folder, 0o555)
    try:
        assert sedna_lib.save_model(_fitted(), str(path)) == str(path)
        assert os.listdir(folder) == ["model.pkl"]
    finally:
        os.chmod(folder, 0o755)


class _SavesBadly:
    """A Sedna-style estimator whose save fails the way a full disk makes it fail."""

    def train(self, train_data, **kwargs):
        return {}

    def predict(self, data, **kwargs):
        return data

    def evaluate(self, data, **kwargs):
        return {}

    def save(self, model_path):
        raise OSError(28, "No space left on device", model_path)


def test_a_user_estimators_failed_save_raises_backend_error(tmp_path):
    backend = EstimatorBackend(_SavesBadly())
    path = tmp_path / "model.pkl"

    with pytest.raises(BackendError, match=r"cannot save the model to .*model.pkl.*No space left on device"):
        backend.save(str(path))
