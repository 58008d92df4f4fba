"""Workers configured by the control plane's variables fail at start, naming the variable at fault."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import ConfigError, StorageNotFoundError
from sedna_lib.federated_learning import FederatedLearning
from sedna_lib.incremental_learning import IncrementalLearning
from sedna_lib.servers.aggregation import AggregationServer
from sedna_lib.servers.knowledge_base import KBServer

NO_LC = {"lc_server": "http://127.0.0.1:9", "max_retries": 0, "worker_name": "w0", "job_name": "job"}


def _ctx(**env):
    """A context read from control-plane variables, as a deployed worker reads its environment."""
    return Context.from_env({k: str(v) for k, v in env.items()})


def _env(**fields):
    return {key.upper(): value for key, value in {**NO_LC, **fields}.items()}


@pytest.fixture
def blocked(tmp_path):
    """A folder that cannot be created by anyone, root included: its parent is a regular file."""
    parent = tmp_path / "not-a-folder"
    parent.write_text("a file")
    return parent / "models"


class SednaStyle:
    """A Sedna-style estimator that records whether it trained."""

    def __init__(self):
        self.trained = False
        self.w = [np.zeros(2)]

    def train(self, train_data, valid_data=None, **kwargs):
        self.trained = True
        self.w = [w + 1.0 for w in self.w]
        return {"loss": 0.5}

    def get_weights(self):
        return self.w

    def set_weights(self, weights):
        self.w = [np.asarray(w, dtype=float) for w in weights]

    def predict(self, data, **kwargs):
        return data

    def save(self, model_path=None):
        np.save(model_path, self.w[0])

    def load(self, model_url=None):
        self.w = [np.load(model_url)]


# -- 1. the output location is checked before training ---------------------------------------------

def test_federated_trainer_with_an_unwritable_model_url_fails_before_connecting(blocked):
    server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, exit_round=1, participants_count=1,
                               done_grace=1, context=Context(Config()))
    server.start(block=False)
    try:
        ctx = _ctx(**_env(agg_ip="127.0.0.1", agg_port=server.port, connect_timeout=5,
                          model_url=str(blocked), model_name="m.npy"))
        est = SednaStyle()
        job = FederatedLearning(est, context=ctx)
        with pytest.raises(ConfigError) as info:
            job.train((np.zeros((4, 2)), np.zeros(4)))
        job.close()
    finally:
        server.stop()

    assert info.value.variable == "MODEL_URL"
    assert "MODEL_URL" in str(info.value) and str(blocked) in str(info.value)
    assert not est.trained  # nothing trained, nothing sent: the failure came first
    assert server.global_weights_ is None


def test_incremental_trainer_with_an_unwritable_model_url_fails_before_training(blocked, digits):
    est = SednaStyle()
    job = IncrementalLearning(est, context=_ctx(**_env(model_url=str(blocked / "model.npy"))))

    with pytest.raises(ConfigError) as info:
        job.train((digits[0][:50], digits[1][:50]))
    job.close()

    assert info.value.variable == "MODEL_URL"
    assert str(blocked) in str(info.value)
    assert not est.trained


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders; the file-parent test covers root")
def test_incremental_trainer_with_a_read_only_model_folder_fails_before_training(tmp_path, digits):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        job = IncrementalLearning(SednaStyle(), context=_ctx(**_env(model_url=f"{folder}/")))
        with pytest.raises(ConfigError, match="MODEL_URL"):
            job.train((digits[0][:50], digits[1][:50]))
        job.close()
    finally:
        folder.chmod(0o755)


def test_a_writable_model_url_is_created_and_left_without_probe_files(tmp_path, digits):
    target = tmp_path / "new" / "deeper"
    job = IncrementalLearning(SednaStyle(), context=_ctx(**_env(model_url=f"{target}/", model_name="m.npy")))

    job.train((digits[0][:50], digits[1][:50]))
    job.close()

    assert sorted(os.listdir(target)) == ["m.npy"]


# -- 2. a missing base model -------------------------------------------------------------------------

def test_a_missing_base_model_fails_naming_base_model_url(tmp_path, digits):
    missing = tmp_path / "base" / "initial.pkl"
    job = IncrementalLearning(LogisticRegression(max_iter=200),
                              context=_ctx(**_env(model_url=str(tmp_path / "out.pkl"),
                                                  base_model_url=str(missing))))

    with pytest.raises(ConfigError) as info:
        job.train((digits[0][:100], digits[1][:100]))
    job.close()

    assert info.value.variable == "BASE_MODEL_URL"
    assert str(missing) in str(info.value)
    assert not (tmp_path / "out.pkl").exists()


def test_a_sedna_style_estimator_gets_a_missing_base_model_with_a_warning(tmp_path, digits, caplog):
    missing = tmp_path / "initial.npy"
    job = IncrementalLearning(SednaStyle(), context=_ctx(**_env(model_url=str(tmp_path / "out.npy"),
                                                                base_model_url=str(missing))))

    with caplog.at_level(logging.WARNING):
        job.train((digits[0][:50], digits[1][:50]))
    job.close()

    assert any("BASE_MODEL_URL" in r.getMessage() and str(missing) in r.getMessage() for r in caplog.records)


# -- 3. the knowledge-base database is opened at start ----------------------------------------------

def test_kb_server_with_an_unwritable_database_fails_at_start_naming_kb_url(tmp_path, blocked):
    server = KBServer(host="127.0.0.1", http_port=0, save_dir=str(tmp_path / "kb"),
                      db_url=f"sqlite:///{blocked}/kb.sqlite3")

    with pytest.raises(ConfigError) as info:
        server.start(block=False)

    assert not server.is_running
    assert info.value.variable == "KB_URL"
    assert f"{blocked}/kb.sqlite3" in str(info.value)


def test_kb_server_start_line_names_its_database(tmp_path, caplog):
    db = tmp_path / "db" / "kb.sqlite3"
    with caplog.at_level(logging.INFO, logger="sedna_lib"):
        with KBServer(host="127.0.0.1", http_port=0, save_dir=str(tmp_path / "kb"), db_url=f"sqlite:///{db}"):
            assert db.is_file()  # created at start, not on the first request
    started = [r.getMessage() for r in caplog.records if "knowledge base started" in r.getMessage()]

    assert len(started) == 1 and f"database {db}" in started[0]


# -- 4. evaluation names the variable the model came from ------------------------------------------

@pytest.fixture
def trained(tmp_path, digits):
    path = tmp_path / "new.pkl"
    job = IncrementalLearning(LogisticRegression(max_iter=200),
                              context=_ctx(**_env(model_url=str(path))))
    job.train((digits[0][:200], digits[1][:200]))
    job.close()
    return path


def test_eval_of_a_missing_deployed_model_names_model_urls(tmp_path, trained, digits):
    missing = tmp_path / "nope" / "deployed.pkl"
    job = IncrementalLearning(LogisticRegression(max_iter=200),
                              context=_ctx(**_env(model_urls=f"{trained};{missing}")))

    with pytest.raises(StorageNotFoundError) as info:
        job.evaluate((digits[2], digits[3]))
    job.close()

    message = str(info.value)
    assert "MODEL_URLS" in message and str(missing) in message
    assert "MODEL_URL/" not in message and "MODEL_URL " not in message


def test_eval_of_a_model_folder_says_model_name_defaulted(tmp_path, digits):
    folder = tmp_path / "models"
    folder.mkdir()
    job = IncrementalLearning(LogisticRegression(max_iter=200),
                              context=_ctx(**_env(model_url=str(folder))))

    with pytest.raises(StorageNotFoundError) as info:
        job.evaluate((digits[2], digits[3]))
    job.close()

    message = str(info.value)
    assert "MODEL_URL" in message and "folder" in message
    assert "MODEL_NAME is unset" in message and os.path.basename(info.value.uri) in message


def test_a_base_model_is_where_a_native_backends_training_starts(tmp_path):
    torch = pytest.importorskip("torch")
    from sedna_lib.backends import TorchBackend

    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    torch.manual_seed(1)
    base = TorchBackend(torch.nn.Linear(4, 2), loss="cross_entropy", optimizer="sgd", learning_rate=0.5, epochs=3)
    base.train((x, y))
    base_file = base.save(str(tmp_path / "base.pt"))
    torch.manual_seed(2)  # another start: training from it would end far from the base weights
    fresh = TorchBackend(torch.nn.Linear(4, 2), loss="cross_entropy", optimizer="sgd", learning_rate=1e-9)
    job = IncrementalLearning(fresh, context=_ctx(**_env(model_url=str(tmp_path / "out.pt"),
                                                         base_model_url=base_file)))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the URL is not handed to a training loop that does not take it
        job.train((x, y))
    job.close()

    for trained, started in zip(fresh.get_weights(), base.get_weights()):
        assert np.allclose(trained, started, atol=1e-6)  # it never loaded the base model before


def test_an_empty_base_model_is_a_placeholder_and_a_broken_one_is_named(tmp_path, digits, caplog):
    empty = tmp_path / "initial.pkl"
    empty.write_bytes(b"")  # what a deployment puts where the control plane wants an initial model
    job = IncrementalLearning(LogisticRegression(max_iter=200),
                              context=_ctx(**_env(model_url=str(tmp_path / "out.pkl"), base_model_url=str(empty))))
    with caplog.at_level(logging.WARNING):
        job.train((digits[0][:100], digits[1][:100]))
    job.close()
    assert any("empty file" in r.getMessage() and str(empty) in r.getMessage() for r in caplog.records)

    broken = tmp_path / "broken.pkl"
    broken.write_bytes(b"not a pickle")
    job = IncrementalLearning(LogisticRegression(max_iter=200),
                              context=_ctx(**_env(model_url=str(tmp_path / "out2.pkl"), base_model_url=str(broken))))
    with pytest.raises(ConfigError) as info:
        job.train((digits[0][:100], digits[1][:100]))
    job.close()
    assert info.value.variable == "BASE_MODEL_URL" and str(broken) in str(info.value)
