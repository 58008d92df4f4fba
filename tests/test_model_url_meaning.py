"""MODEL_URL means the same thing for the train, eval and inference workers: a file when it names one."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import StorageNotFoundError
from sedna_lib.incremental_learning import IncrementalLearning
from sedna_lib.job import JobBase


def _ctx(**fields):
    return Context(Config(**fields))


def test_model_path_is_a_model_url_with_a_file_name_not_yet_written(tmp_path):
    target = tmp_path / "out" / "model.pkl"

    assert JobBase(None, context=_ctx(model_url=str(target), model_name="model_finetune_.pkl")).model_path \
        == str(target)


def test_a_model_url_ending_in_a_slash_is_a_folder(tmp_path):
    job = JobBase(None, context=_ctx(model_url=f"{tmp_path}/v1.2/", model_name="model.pkl"))

    assert job.model_path == f"{tmp_path}/v1.2/model.pkl"


def test_train_then_infer_with_one_model_url_file(tmp_path, digits):
    from sklearn.linear_model import LogisticRegression

    x, y, xt, yt = digits
    target = tmp_path / "out" / "model.pkl"
    ctx = _ctx(model_url=str(target), lc_server="http://127.0.0.1:9", worker_name="w", job_name="il")
    trainer = IncrementalLearning(estimator=functools.partial(LogisticRegression, max_iter=500), context=ctx)
    trainer.train((x[:300], y[:300]))
    trainer.close()

    assert target.is_file()
    worker = IncrementalLearning(estimator=functools.partial(LogisticRegression, max_iter=500), context=ctx)
    _, result, _ = worker.inference(xt[:1])
    worker.close()
    assert np.asarray(result).shape == (1,)


def test_missing_model_file_error_names_that_file(tmp_path, digits):
    from sklearn.linear_model import LogisticRegression

    missing = tmp_path / "nope" / "model.pkl"
    worker = IncrementalLearning(estimator=functools.partial(LogisticRegression, max_iter=500),
                                 context=_ctx(model_url=str(missing), lc_server="http://127.0.0.1:9"))

    with pytest.raises(StorageNotFoundError) as info:
        worker.inference(digits[2][:1])
    worker.close()
    assert f"'{missing}'" in str(info.value)
