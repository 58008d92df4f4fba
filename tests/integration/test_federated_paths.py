"""Federated learning paths end to end: Keras through fit, save_model, named losses, V2, MistNet, S3, TLS."""

from __future__ import annotations

import datetime
import ipaddress
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import ConfigError, RemoteError, StorageNotFoundError, TransportError
from sedna_lib.compat.server.aggregation import AggregationServerV2
from sedna_lib.servers.aggregation import AggregationServer

pytestmark = pytest.mark.integration


def _server(aggregation="FedAvg", **kwargs):
    kwargs.setdefault("done_grace", 5)
    return AggregationServer(aggregation, host="127.0.0.1", http_port=0, context=Context(Config()),
                             **kwargs).start(block=False)


def _client_ctx(server, worker, **fields):
    return Context(Config(agg_ip="127.0.0.1", agg_port=server.port, worker_name=worker, connect_timeout=20,
                          **fields))


def _in_threads(fn, n):
    """Run ``fn(i)`` for i in range(n) concurrently; return the results (re-raising the first error)."""
    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(fn, i) for i in range(n)]
        return [f.result(timeout=90) for f in futures]


def _shards(digits, n, size=300):
    x, y, _, _ = digits
    return [(x[i * size:(i + 1) * size], y[i * size:(i + 1) * size].astype("int64")) for i in range(n)]


def _torch_net(seed=0):
    torch = pytest.importorskip("torch")
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))


def _torch_accuracy(model, x, y):
    import torch

    with torch.no_grad():
        return float((model(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


# -- Keras through collaborative_training.fit -------------------------------------------------

@pytest.mark.tensorflow
def test_keras_models_fit_federatedly_and_end_with_the_same_global_model(digits):
    tf = pytest.importorskip("tensorflow")
    import keras

    from sedna_lib import collaborative_training, losses, metrics, optimizers

    _, _, xt, yt = digits
    server = _server(exit_round=2, participants_count=2, round_timeout=60)
    shards = _shards(digits, 2)
    keras.utils.set_random_seed(0)
    models = [keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, activation="softmax")]) for _ in range(2)]
    rounds = [[], []]

    def client(i):  # the solar_corona call: tf.data loaders, keyword arguments, string parameters
        train_loader = tf.data.Dataset.from_tensor_slices(shards[i]).shuffle(300, seed=i).batch(32)
        test_loader = tf.data.Dataset.from_tensor_slices((xt, yt)).batch(128)
        return collaborative_training.fit(
            train_loader=train_loader, test_loader=test_loader, model=models[i],
            loss=losses.SparseCategoricalCrossentropy(), metric=metrics.SparseCategoricalAccuracy(),
            optimizer=optimizers.Adam(learning_rate=0.05), batch_size="32", epochs="2",
            aggregation_algorithm="FedAvg", context=_client_ctx(server, f"k{i}"), progress=False,
            on_round=rounds[i].append)

    try:
        trained = _in_threads(client, 2)
        assert server.wait(15)
    finally:
        server.stop()

    assert trained[0] is models[0] and trained[1] is models[1]
    assert [o.round_number for o in rounds[0]] == [1, 2] and rounds[0][-1].is_last
    for a, b in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    scores = models[0].evaluate(xt, yt, return_dict=True, verbose=0)
    assert scores["sparse_categorical_accuracy"] > 0.6  # the metric given to fit is the one compiled
    assert [(len(r.clients), r.total_sample) for r in server.history_] == [(2, 600), (2, 600)]


def test_fit_reports_every_round_with_its_metrics_one_line_each_without_a_terminal(digits, caplog):
    import logging

    from sedna_lib import collaborative_training

    _, _, xt, yt = digits
    (x, y), = _shards(digits, 1)
    server = _server(exit_round=3, participants_count=1)
    caplog.set_level(logging.INFO, logger="sedna_lib")
    try:
        collaborative_training.fit((x, y), (xt, yt.astype("int64")), _torch_net(), "cross_entropy", "accuracy",
                                   "sgd", batch_size=32, epochs=1, context=_client_ctx(server, "p0"), seed=0,
                                   rounds_hint=3)
        assert server.wait(15)
    finally:
        server.stop()

    lines = [r.getMessage() for r in caplog.records if r.name == "sedna_lib.federated_learning.fit"]
    assert [line.split(" samples=")[0] for line in lines] == ["round 1/3", "round 2/3", "round 3/3"]
    assert all(line.startswith(f"round {i}/3 samples=300 ") and "accuracy=" in line
               for i, line in enumerate(lines, 1))


# -- save_model -------------------------------------------------------------------------------

def test_save_model_writes_to_model_url_and_model_name_and_reloads(tmp_path):
    torch = pytest.importorskip("torch")
    from sedna_lib.backends import set_backend
    from sedna_lib.models import save_model

    model = _torch_net(seed=1)
    ctx = Context(Config(model_url=str(tmp_path / "out"), model_name="digits.pth"))

    path = save_model(model, context=ctx)

    assert path.endswith("digits.pth") and (tmp_path / "out" / "digits.pth").is_file()
    fresh = _torch_net(seed=2)
    set_backend(fresh, context=Context(Config())).load(path)
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.tensorflow
def test_save_model_to_a_given_path_writes_a_reloadable_keras_file(tmp_path):
    pytest.importorskip("tensorflow")
    import keras

    from sedna_lib.models import save_model

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])

    path = save_model(model, str(tmp_path / "m.keras"), context=Context(Config()))

    again = keras.models.load_model(path)
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_save_model_without_a_path_or_model_url_raises_config_error():
    from sedna_lib.models import save_model

    with pytest.raises(ConfigError, match="MODEL_URL"):
        save_model(_torch_net(), context=Context(Config()))


# -- losses, metrics, optimizers --------------------------------------------------------------

def test_named_objects_resolve_to_torch_classes():
    torch = pytest.importorskip("torch")
    from sedna_lib import losses, metrics, optimizers

    net = _torch_net()

    loss = losses.SparseCategoricalCrossentropy(from_logits=True).resolve("torch")
    opt = optimizers.Adam(learning_rate=0.02).resolve("torch")(net.parameters())

    assert isinstance(loss, torch.nn.CrossEntropyLoss)
    assert isinstance(losses.MeanSquaredError().resolve("torch"), torch.nn.MSELoss)
    assert isinstance(opt, torch.optim.Adam) and opt.param_groups[0]["lr"] == 0.02
    assert isinstance(optimizers.SGD(0.1, momentum=0.9).resolve("torch")(net.parameters()), torch.optim.SGD)
    with pytest.raises(ValueError, match="no torch counterpart"):
        metrics.SparseCategoricalAccuracy().resolve("torch")


@pytest.mark.tensorflow
def test_named_objects_resolve_to_keras_classes():
    pytest.importorskip("tensorflow")
    import keras

    from sedna_lib import losses, metrics, optimizers

    loss = losses.CategoricalCrossentropy(from_logits=True).resolve("keras")
    opt = optimizers.RMSprop(learning_rate=0.02).resolve("keras")

    assert isinstance(loss, keras.losses.CategoricalCrossentropy) and loss.get_config()["from_logits"] is True
    assert isinstance(opt, keras.optimizers.RMSprop)
    assert float(opt.learning_rate) == pytest.approx(0.02)
    assert isinstance(metrics.SparseCategoricalAccuracy().resolve("keras"), keras.metrics.SparseCategoricalAccuracy)


def test_named_metric_computes_accuracy_with_numpy():
    from sedna_lib import metrics

    assert metrics.SparseCategoricalAccuracy()([1, 0, 2], [[0.1, 0.9, 0], [0.8, 0.2, 0], [0.6, 0.3, 0.1]]) == 2 / 3


def test_fit_accepts_the_frameworks_own_torch_loss_and_optimizer(digits):
    torch = pytest.importorskip("torch")
    from sedna_lib import collaborative_training

    _, _, xt, yt = digits
    server = _server(exit_round=2, participants_count=1)
    model = _torch_net()
    try:
        out = collaborative_training.fit(_shards(digits, 1)[0], None, model, torch.nn.CrossEntropyLoss(), None,
                                         lambda params: torch.optim.SGD(params, lr=0.2), batch_size=32, epochs=2,
                                         context=_client_ctx(server, "t0"), progress=False)
        assert server.wait(15)
    finally:
        server.stop()

    assert out is model
    assert _torch_accuracy(model, xt, yt) > 0.4  # it trained (chance is 0.1)


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": "two"}, "epochs must be a whole number >= 1, got 'two'"),
    ({"epochs": 2.5}, "epochs must be a whole number >= 1, got 2.5"),  # was truncated to 2
    ({"epochs": 0}, "epochs must be a whole number >= 1, got 0"),
    ({"batch_size": True}, "batch_size must be a whole number >= 1, got True"),  # was a batch of 1
    ({"batch_size": -8}, "batch_size must be a whole number >= 1, got -8"),
])
def test_fit_rejects_epochs_and_batch_sizes_that_are_not_whole_numbers_with_parameter_error(kwargs, match):
    from sedna_lib import collaborative_training
    from sedna_lib.exceptions import ParameterError

    with pytest.raises(ParameterError, match=match):
        collaborative_training.fit((np.zeros((2, 64), "float32"), np.zeros(2, "int64")), None, _torch_net(),
                                   context=Context(Config()), progress=False, **kwargs)


# -- V2: FederatedLearningV2 + AggregationServerV2 --------------------------------------------

class _Data:
    def __init__(self, x, y):
        self.customized = True
        self.trainset = (x, y)
        self.testset = None


class _Estimator:
    def __init__(self, model, **hyperparameters):
        self.model = model
        self.pretrained = None
        self.saved = None
        self.hyperparameters = hyperparameters


def test_v2_trainers_and_server_run_fedavgv2_rounds_with_simple_client_choose(digits, tmp_path):
    pytest.importorskip("torch")
    import torch

    from sedna_lib.algorithms.aggregation import FedAvgV2
    from sedna_lib.algorithms.client_choose import SimpleClientChoose
    from sedna_lib.algorithms.transmitter import WSTransmitter
    from sedna_lib.federated_learning import FederatedLearningV2

    _, _, xt, yt = digits
    server_estimator = _Estimator(_torch_net(seed=5))
    server_estimator.saved = str(tmp_path / "global")  # Sedna's aggregate.py: estimator.saved = MODEL_URL
    server = AggregationServerV2(data=None, estimator=server_estimator, aggregation=FedAvgV2(),
                                 transmitter=WSTransmitter(),
                                 chooser=SimpleClientChoose(per_round=2), exit_round=2, host="127.0.0.1",
                                 http_port=0, done_grace=5, context=Context(Config())).start(block=False)
    shards = _shards(digits, 2)
    nets = [_torch_net(seed=0) for _ in range(2)]

    def trainer(i):
        job = FederatedLearningV2(data=_Data(*shards[i]),
                                  estimator=_Estimator(nets[i], epochs=2, batch_size=32, learning_rate=0.2,
                                                       loss="cross_entropy", optimizer="sgd", seed=i),
                                  aggregation=FedAvgV2(), transmitter=WSTransmitter(),
                                  context=_client_ctx(server, f"v2-{i}"))
        return job.train()

    try:
        out = _in_threads(trainer, 2)
        assert server.wait(15)
    finally:
        server.stop()

    assert out[0] is nets[0]
    assert server.name_ == "FedAvgV2" and [len(r.clients) for r in server.history_] == [2, 2]
    for a, b in zip(nets[0].state_dict().values(), nets[1].state_dict().values()):
        assert torch.allclose(a, b)
    assert _torch_accuracy(nets[0], xt, yt) > 0.6  # it trained (chance 0.1; seeded shuffles: same every run)
    saved = _torch_net(seed=6)
    saved.load_state_dict(torch.load(server.saved_path_))  # the server saved the final global model
    for a, b in zip(nets[0].state_dict().values(), saved.state_dict().values()):
        assert torch.allclose(a, b)


def test_v2_server_save_model_without_a_destination_raises_config_error():
    from sedna_lib.algorithms.aggregation import FedAvgV2

    server = AggregationServerV2(estimator=_Estimator(_torch_net()), aggregation=FedAvgV2(),
                                 context=Context(Config()))

    with pytest.raises(ConfigError, match="estimator.saved"):
        server.save_model()


def test_v2_trainer_dials_the_instances_name_even_when_aggregation_algorithm_is_set(digits):
    from sedna_lib.algorithms.aggregation import FedAvgV2
    from sedna_lib.federated_learning import FederatedLearningV2

    server = AggregationServerV2(aggregation=FedAvgV2(), exit_round=1, host="127.0.0.1", http_port=0, done_grace=5,
                                 context=Context(Config())).start(block=False)
    job = FederatedLearningV2(data=_Data(*_shards(digits, 1, size=64)[0]), estimator=_Estimator(_torch_net()),
                              aggregation=FedAvgV2(),
                              context=_client_ctx(server, "v2-env", aggregation_algorithm="FedAvg"))
    try:
        job.train()
        assert server.wait(15)
    finally:
        server.stop()

    assert server.history_[0].clients == ["v2-env"]


# -- MistNet over the wire --------------------------------------------------------------------

def test_mistnet_clients_upload_features_once_and_the_server_trains_the_head(digits, tmp_path):
    pytest.importorskip("torch")
    from sklearn.linear_model import LogisticRegression

    from sedna_lib.algorithms.aggregation import MistNet
    from sedna_lib.algorithms.client_choose import SimpleClientChoose
    from sedna_lib.federated_learning import FederatedLearningV2

    _, _, xt, yt = digits
    head = LogisticRegression(max_iter=500)
    server_estimator = _Estimator(head)
    server_estimator.saved = str(tmp_path / "head")
    server = AggregationServerV2(estimator=server_estimator, aggregation=MistNet(cut_layer="2", epsilon="8"),
                                 chooser=SimpleClientChoose(per_round=2), host="127.0.0.1", http_port=0,
                                 done_grace=5, context=Context(Config())).start(block=False)
    shards = _shards(digits, 2)
    body = _torch_net(seed=3)

    def trainer(i):
        data = _Data(*shards[i])
        if i == 1:  # a loader of (x, y) batches works as well as arrays
            import torch

            data.trainset = torch.utils.data.DataLoader(
                torch.utils.data.TensorDataset(torch.from_numpy(shards[i][0]), torch.from_numpy(shards[i][1])),
                batch_size=64)
        job = FederatedLearningV2(data=data, estimator=_Estimator(body),
                                  aggregation=MistNet(cut_layer="2", epsilon="8", seed=i),
                                  context=_client_ctx(server, f"mist-{i}"))
        return job.train()

    try:
        _in_threads(trainer, 2)
        assert server.wait(15)
    finally:
        server.stop()

    agg = server.aggregator_
    assert [r.reason for r in server.history_] == ["quorum"] and server.round_ == 1
    assert agg.features_.shape == (600, 32) and set(np.unique(agg.features_)) <= {0.0, 1.0}
    assert np.array_equal(np.sort(agg.labels_), np.sort(np.concatenate([s[1] for s in shards])))
    assert head.score(agg.features_, agg.labels_) > 0.3  # the head learned from the privatised bits
    assert server.saved_path_ and os.path.isfile(server.saved_path_)


# -- S3 transmitter ---------------------------------------------------------------------------

@pytest.mark.s3
def test_s3_transmitter_round_trips_an_encoded_model_through_a_real_s3_endpoint(s3_endpoint, s3_config):
    pytest.importorskip("minio")
    from minio import Minio

    from sedna_lib.compat.core.federated_learning import FederatedLearningV2
    from sedna_lib.transport import codec
    from tests.conftest import S3_ACCESS_KEY, S3_SECRET_KEY

    Minio(s3_endpoint.split("//", 1)[1], access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY,
          secure=False).make_bucket("fl-transmit")
    ctx = Context(Config(transmitter="s3", s3_endpoint_url=s3_endpoint, access_key_id=S3_ACCESS_KEY,
                         secret_access_key=S3_SECRET_KEY, agg_data_path="s3://fl-transmit/job-1"))
    transmitter = FederatedLearningV2.get_transmitter_from_config(ctx)
    weights = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(3)]

    ref = transmitter.send(codec.encode(weights, {"round": 1}), key="client-a/round-1.bin")
    meta, arrays = codec.decode(transmitter.recv(ref))

    assert ref == "s3://fl-transmit/job-1/client-a/round-1.bin"
    assert transmitter.parameters["s3_bucket"] == "s3://fl-transmit/job-1"
    assert meta["round"] == 1 and all(np.array_equal(a, b) for a, b in zip(arrays, weights))
    with pytest.raises(StorageNotFoundError):
        transmitter.recv("s3://fl-transmit/job-1/missing.bin")


def test_transmitter_from_config_is_ws_by_default_and_none_for_unknown():
    from sedna_lib.algorithms.transmitter import WSTransmitter
    from sedna_lib.compat.core.federated_learning import FederatedLearningV2

    assert isinstance(FederatedLearningV2.get_transmitter_from_config(Context(Config())), WSTransmitter)
    assert FederatedLearningV2.get_transmitter_from_config(Context(Config(transmitter="carrier-pigeon"))) is None


# -- TLS and the shared token -----------------------------------------------------------------

def _self_signed_with_cryptography(cert_file, key_file):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sedna-lib-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1/localhost (``cryptography``, else the ``openssl`` CLI)."""
    import importlib.util
    import shutil
    import subprocess

    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    if importlib.util.find_spec("cryptography") is not None:
        _self_signed_with_cryptography(cert_file, key_file)
    elif shutil.which("openssl"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=sedna-lib-test", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", str(key_file), "-out", str(cert_file)], check=True, capture_output=True,
                       timeout=60)
    else:
        pytest.skip("TLS tests need a self-signed certificate: install 'cryptography' or the openssl CLI")
    return str(cert_file), str(key_file)


def test_tls_server_with_token_trains_a_trainer_that_trusts_its_certificate(tls_files, digits):
    pytest.importorskip("torch")
    from sedna_lib import collaborative_training, losses, optimizers

    cert, key = tls_files
    server = _server(exit_round=1, participants_count=1, ssl_certfile=cert, ssl_keyfile=key, auth_token="s3cret")
    ctx = _client_ctx(server, "tls-0", agg_protocol="wss", tls_ca=cert, auth_token="s3cret")
    try:
        collaborative_training.fit(_shards(digits, 1)[0], None, _torch_net(), losses.SparseCategoricalCrossentropy(),
                                   None, optimizers.SGD(0.1), epochs=1, context=ctx, progress=False)
        assert server.wait(15)
    finally:
        server.stop()

    assert server.url.startswith("wss://127.0.0.1:")
    assert server.history_[0].clients == ["tls-0"]


def test_tls_server_refuses_a_wrong_token_and_an_untrusting_client(tls_files):
    from sedna_lib.transport.ws import AggregationClient

    cert, key = tls_files
    server = _server(exit_round=1, participants_count=1, ssl_certfile=cert, ssl_keyfile=key, auth_token="s3cret")
    try:
        with pytest.raises(RemoteError, match="token"):
            AggregationClient(server.url, "intruder", token="guess", ca_file=cert, connect_timeout=5).connect()
        with pytest.raises(TransportError, match="could not reach"):
            AggregationClient(server.url, "no-ca", token="s3cret", connect_timeout=1).connect()
    finally:
        server.stop()


def test_seeded_fit_repeats_exactly_with_trainers_in_threads(digits):
    import threading

    torch = pytest.importorskip("torch")
    from sedna_lib import collaborative_training
    from sedna_lib.config import Config
    from sedna_lib.context import Context
    from sedna_lib.servers.aggregation import AggregationServer

    x, y, _, _ = digits

    def job():
        server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0, exit_round=2, participants_count=2,
                                   round_timeout=30, context=Context(Config()))
        server.start(block=False)
        models = []
        for _ in range(2):
            torch.manual_seed(0)
            models.append(torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10)))

        def trainer(i):
            cfg = Config(agg_ip="127.0.0.1", agg_port=server.port, worker_name=f"t{i}", exit_round=2)
            part = slice(i * 300, (i + 1) * 300)
            collaborative_training.fit((x[part], y[part].astype("int64")), None, models[i], "cross_entropy", None,
                                       "sgd", batch_size=16, epochs=1, context=Context(cfg), progress=False,
                                       seed=10 * i)

        threads = [threading.Thread(target=trainer, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        server.wait(30)
        server.stop()
        return [p.detach().numpy().copy() for p in models[0].parameters()]

    first, second = job(), job()
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
