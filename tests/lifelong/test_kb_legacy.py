"""Sedna's pickled knowledge-base index: read through an allow-list, published for original edges (opt-in).

The pickles here are written as an original Sedna trainer writes them: ``joblib.dump`` of the index
(contract 8.7) whose objects are of classes named ``sedna.algorithms.seen_task_learning.artifact.*``
and ``sedna.datasources.BaseDataSource`` with the attributes of contract 5.5, samples as pandas
frames. The classes are declared here from the contract, under those module names.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import pickle
import pickletools
import sys
import types

import joblib
import numpy as np
import pandas as pd
import pytest
import requests

from sedna_lib.base import TaskGroup
from sedna_lib.exceptions import DataError
from sedna_lib.servers._threaded import ThreadedServer
from sedna_lib.servers.knowledge_base import KnowledgeBaseStore, create_app
from sedna_lib.transport.kb import KBClient
from sedna_lib.transport.kb_index import dumps_index, empty_index
from sedna_lib.transport.kb_legacy import dumps_legacy_index, loads_legacy_index

ARTIFACT = "sedna.algorithms.seen_task_learning.artifact"


@contextlib.contextmanager
def sedna_classes():
    """Classes with Sedna's names and attributes (contract 5.5, 6.1), importable while the block runs."""
    art = types.ModuleType(ARTIFACT)
    ds = types.ModuleType("sedna.datasources")

    class Task:
        def __init__(self, entry, samples, meta_attr=None):
            self.entry, self.samples, self.meta_attr = entry, samples, meta_attr
            self.test_samples = self.model = self.result = None

    class TaskGroup:
        def __init__(self, entry, tasks):
            self.entry, self.tasks, self.samples, self.model = entry, tasks, None, None

    class Model:
        def __init__(self, index, entry, model, result):
            self.index, self.entry, self.model, self.result = index, entry, model, result
            self.meta_attr = None

    class BaseDataSource:
        def __init__(self, data_type="train", func=None):
            self.data_type, self.process_func = data_type, None
            self.x = self.y = self.meta_attr = None

    for module, classes in ((art, (Task, TaskGroup, Model)), (ds, (BaseDataSource,))):
        for cls in classes:
            cls.__module__, cls.__qualname__ = module.__name__, cls.__name__
            setattr(module, cls.__name__, cls)
    saved = {name: sys.modules.get(name) for name in (ARTIFACT, "sedna.datasources")}
    sys.modules.update({ARTIFACT: art, "sedna.datasources": ds})
    try:
        yield types.SimpleNamespace(Task=Task, TaskGroup=TaskGroup, Model=Model, BaseDataSource=BaseDataSource)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def sedna_index_pickle(tmp_path, kb_url="http://kb:9020/knowledgebase") -> bytes:
    """The index an original trainer posts to /knowledgebase/update: two task groups with frames."""
    with sedna_classes() as S:
        groups = []
        for i, (season, rows) in enumerate((("Summer", 12), ("Winter", 9))):
            samples = S.BaseDataSource("train")
            samples.x = pd.DataFrame({"temp": np.linspace(20, 30, rows), "city": ["Sydney"] * rows})
            samples.y = pd.Series(np.arange(rows) % 3)
            samples.data_url = f"{kb_url}/file/download?files=train_{season}.sample&name=train_{season}.sample"
            task = S.Task(season, samples, meta_attr=[season])
            task.model = f"/output/seen_task/{season}.model"
            group = S.TaskGroup(season, [task])
            group.samples = samples
            group.model = S.Model(i, season, f"{kb_url}/file/download?files={season}.model&name={season}.model",
                                  {"mlogloss": np.float64(0.25 + i)})
            group.model.meta_attr = [[season]]
            groups.append(group)
        index = {"seen_task": {"task_groups": groups, "extractor": f"{kb_url}/file/download?files=x.pkl"},
                 "unseen_task": {"task_groups": [], "extractor": None}, "create_time": "1700000000.5"}
        path = tmp_path / "sedna-index.pkl"
        joblib.dump(index, path)  # Sedna's FileOps.dump
    return path.read_bytes()


class _Boom:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_sedna_index_pickle_is_read_into_task_groups_through_the_allow_list(tmp_path):
    data = sedna_index_pickle(tmp_path)

    index = loads_legacy_index(data)

    groups = index["seen_task"]["task_groups"]
    assert [type(g) for g in groups] == [TaskGroup, TaskGroup]
    assert [g.entry for g in groups] == ["Summer", "Winter"]
    assert groups[0].model.model.endswith("files=Summer.model&name=Summer.model")
    assert groups[1].model.result == {"mlogloss": 1.25}
    assert groups[0].tasks[0].samples.data_url.endswith("train_Summer.sample")
    assert groups[0].tasks[0].samples.data_type == "train"
    assert index["create_time"] == "1700000000.5"


def test_a_pickle_naming_any_other_global_is_refused_without_running_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = pickle.dumps({"seen_task": {"task_groups": [_Boom()]}}, protocol=3)

    with pytest.raises(DataError, match="posix.system|os.system"):
        loads_legacy_index(data)
    assert not (tmp_path / "pwned").exists()


def test_an_array_declaring_more_bytes_than_received_is_refused_before_allocation():
    from joblib.numpy_pickle import NumpyArrayWrapper

    bomb = NumpyArrayWrapper(np.ndarray, (10 ** 9,), "C", np.dtype("f8"))
    data = pickle.dumps({"seen_task": {"task_groups": [], "extractor": bomb}}, protocol=3)

    with pytest.raises(DataError, match="declares 1000000000 x 8 bytes"):
        loads_legacy_index(data)


def test_written_index_names_sedna_classes_and_reads_back(tmp_path):
    doc = json.loads(dumps_index(loads_legacy_index(sedna_index_pickle(tmp_path))))

    data = dumps_legacy_index(doc)

    names = {arg for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}
    assert names == {f"{ARTIFACT} Task", f"{ARTIFACT} TaskGroup", f"{ARTIFACT} Model",
                     "sedna.datasources BaseDataSource"}
    with sedna_classes() as S:  # an original edge's FileOps.load
        index = joblib.load(io.BytesIO(data))
        group = index["seen_task"]["task_groups"][0]
        assert isinstance(group, S.TaskGroup) and isinstance(group.model, S.Model)
        assert group.tasks[0].samples.data_url.endswith("train_Summer.sample")
        assert group.tasks[0].samples.data_type == "train" and len(group.samples.x) == 0
        assert group.model.result == {"mlogloss": 0.25} and group.tasks[0].meta_attr == ["Summer"]


@pytest.fixture
def legacy_kb(tmp_path):
    store = KnowledgeBaseStore(str(tmp_path / "kb"), legacy_pickle=True)
    with ThreadedServer(create_app(store)) as server:
        yield server, store
    store.close()


def test_legacy_kb_takes_an_original_trainers_index_and_publishes_it_pickled(legacy_kb, tmp_path):
    server, store = legacy_kb
    data = sedna_index_pickle(tmp_path)

    reply = requests.post(f"{server.url}/knowledgebase/update", files={"task": ("tmpab12", data)}, timeout=10)
    status = requests.post(f"{server.url}/knowledgebase/update/status", json={"status": 0, "tasks": "Winter"},
                           timeout=10)
    published = requests.get(f"{server.url}/knowledgebase/file/download",
                             params={"files": "index.pkl", "name": "index.pkl"}, timeout=10).content

    assert reply.status_code == 200 and reply.json() == "/file/download?files=index.pkl&name=index.pkl"
    assert status.status_code == 200
    with sedna_classes():
        groups = joblib.load(io.BytesIO(published))["seen_task"]["task_groups"]
    assert [g.entry for g in groups] == ["Summer", "Winter"]
    assert groups[1].model.model == groups[0].model.model  # the dropped group serves a deployed model
    assert {g["name"]: g["deploy"] for g in store.query()} == {"Summer": True, "Winter": False}


def test_a_legacy_kb_publishes_a_sedna_lib_index_pickled_for_original_edges(legacy_kb, tmp_path):
    server, _ = legacy_kb
    doc = json.loads(dumps_index(loads_legacy_index(sedna_index_pickle(tmp_path))))
    doc["seen_task"]["task_groups"][0]["model"]["sha256"] = "ab" * 32
    doc["seen_task"]["profiles"] = {"mean": {"__ndarray__": "AAAAAAAA8D8=", "dtype": "<f8", "shape": [1]}}
    path = tmp_path / "index.pkl"
    path.write_bytes(json.dumps(doc).encode())

    with KBClient(server.url) as client:
        published = client.read_bytes(client.update_db(str(path)))

    modules = {arg.split(" ")[0] for op, arg, _ in pickletools.genops(published) if op.name == "GLOBAL"}
    assert modules == {ARTIFACT, "sedna.datasources", "numpy.core.multiarray", "numpy"}  # no sedna_lib
    index = loads_legacy_index(published)  # a sedna_lib edge, through the allow-list: digests kept
    assert index["seen_task"]["task_groups"][0].model.sha256 == "ab" * 32
    assert index["seen_task"]["profiles"]["mean"].tolist() == [1.0]
    with sedna_classes():  # an original edge
        assert joblib.load(io.BytesIO(published))["seen_task"]["task_groups"][1].entry == "Winter"


def test_default_kb_refuses_a_pickled_index_and_update_db_returns_none_with_the_reason(tmp_path, caplog):
    store = KnowledgeBaseStore(str(tmp_path / "kb"))
    path = tmp_path / "index.pkl"
    path.write_bytes(sedna_index_pickle(tmp_path))

    with ThreadedServer(create_app(store)) as server, KBClient(server.url) as client, \
            caplog.at_level(logging.ERROR, logger="sedna_lib.transport.kb"):
        url = client.update_db(str(path))
    store.close()

    assert url is None
    assert client.last_error_.status_code == 415
    assert "SEDNA_LEGACY_PICKLE=true" in caplog.text
    assert not (tmp_path / "kb" / "index.pkl").exists()


def test_update_db_returns_none_when_the_server_is_away(tmp_path, caplog):
    path = tmp_path / "index.pkl"
    path.write_bytes(dumps_index(empty_index()))

    with KBClient("http://127.0.0.1:9", connect_timeout=0.5, timeout=1) as client, \
            caplog.at_level(logging.ERROR, logger="sedna_lib.transport.kb"):
        assert client.update_db(str(path)) is None
    assert "knowledge-base update failed" in caplog.text


def test_trainer_eval_and_edge_work_through_a_legacy_kb_with_digests_checked(legacy_kb, ll_context,
                                                                             origin_data, tmp_path):
    from sklearn.linear_model import LogisticRegression

    from sedna_lib.exceptions import IntegrityError
    from sedna_lib.lifelong_learning import LifelongLearning, Samples

    from .conftest import make_origin_samples, with_config

    server, store = legacy_kb
    algorithms = {"task_definition": {"method": "TaskDefinitionByOrigin"},
                  "task_allocation": {"method": "TaskAllocationByNearestTask"}}
    d = origin_data
    cloud = with_config(ll_context, kb_server=server.url, legacy_pickle=True)
    LifelongLearning(LogisticRegression(max_iter=200), context=cloud, **algorithms).train(
        make_origin_samples(d["x_train"], d["y_train"], ["identity", "flip"], np.arange(200)))
    trained = os.path.join(cloud.config.output_url, "index.pkl")
    evaluation = with_config(cloud, model_urls=(trained,), output_url=str(tmp_path / "eval"))
    LifelongLearning(LogisticRegression(), context=evaluation, **algorithms).evaluate(
        make_origin_samples(d["x_test"], d["y_test"], ["identity", "flip"], np.arange(50)))
    deployed = tmp_path / "eval" / "index.pkl"
    edge = with_config(cloud, model_urls=(str(deployed),), edge_output_url=str(tmp_path / "edge"))

    pred, _, _ = LifelongLearning(LogisticRegression(), context=edge, **algorithms).inference(
        Samples(d["x_test"][:20]))

    assert deployed.read_bytes()[:1] == b"\x80"  # the KB's pickled index, which original edges load
    assert len(pred) == 20
    victim = loads_legacy_index(deployed.read_bytes())["seen_task"]["task_groups"][0].model.model
    name = victim.split("files=")[1].split("&")[0]
    with open(os.path.join(store.save_dir, name), "wb") as fh:
        fh.write(b"replaced")
    fresh = with_config(edge, edge_output_url=str(tmp_path / "edge2"))
    with pytest.raises(IntegrityError):
        LifelongLearning(LogisticRegression(), context=fresh, **algorithms).inference(Samples(d["x_test"][:5]))


def test_a_legacy_kb_lets_an_original_trainer_upload_its_models_again(legacy_kb, tmp_path):
    server, store = legacy_kb
    requests.post(f"{server.url}/knowledgebase/update", files={"task": ("tmpab12", sedna_index_pickle(
        tmp_path, kb_url=f"{server.url}/knowledgebase"))}, timeout=10)

    first = requests.post(f"{server.url}/knowledgebase/file/upload", files={"file": ("Summer.model", b"v1")},
                          timeout=10)
    second = requests.post(f"{server.url}/knowledgebase/file/upload", files={"file": ("Summer.model", b"v2")},
                           timeout=10)

    assert (first.status_code, second.status_code) == (200, 200)  # Sedna's trainers reuse the names
    assert open(os.path.join(store.save_dir, "Summer.model"), "rb").read() == b"v2"
