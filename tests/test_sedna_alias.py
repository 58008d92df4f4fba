"""The ``sedna`` drop-in: Sedna's import lines work unchanged and name sedna_lib's own modules."""

from __future__ import annotations

import importlib
import pickle
import subprocess
import sys

import pytest

import sedna
import sedna_lib


def test_sedna_version_is_sedna_libs():
    assert sedna.__version__ == sedna_lib.__version__


def test_example_import_lines_work_unchanged():
    # the import lines of Sedna's examples (contract section 10) that this part of the library serves
    from sedna.common.class_factory import ClassFactory, ClassType
    from sedna.common.config import BaseConfig, Context
    from sedna.common.constant import K8sResourceKind, K8sResourceKindStatus, KBResourceConstant
    from sedna.common.log import LOGGER, Logger
    from sedna.common.utils import get_host_ip, singleton
    from sedna.core.base import JobBase
    from sedna.datasources import BaseDataSource, CSVDataParse, JSONDataParse, TxtDataParse
    from sedna.service.client import LCClient, LCReporter, http_request

    assert callable(Context.get_parameters) and BaseConfig() is BaseConfig()
    assert ClassType.HEM == "hard_example_mining" and callable(ClassFactory.get_cls)
    assert K8sResourceKind.JOINT_INFERENCE_SERVICE.value == "jointinferenceservice"
    assert K8sResourceKindStatus.COMPLETED.value == "completed" and KBResourceConstant.KB_INDEX_NAME
    assert LOGGER.name == "sedna" and Logger and callable(get_host_ip) and callable(singleton)
    assert issubclass(TxtDataParse, BaseDataSource) and CSVDataParse and JSONDataParse
    assert JobBase and LCClient and LCReporter and callable(http_request)


def test_file_ops_import_line():
    pytest.importorskip("sedna_lib.compat.file_ops")
    from sedna.common.file_ops import FileOps

    assert FileOps


@pytest.mark.parametrize("alias, target", [
    ("sedna.common.config", "sedna_lib.compat.config"),
    ("sedna.common.class_factory", "sedna_lib.compat.class_factory"),
    ("sedna.common.log", "sedna_lib.compat.log"),
    ("sedna.common.utils", "sedna_lib.compat.utils"),
    ("sedna.common.constant", "sedna_lib.compat.constant"),
    ("sedna.datasources", "sedna_lib.datasources"),
    ("sedna.service.client", "sedna_lib.compat.client"),
    ("sedna.core.base", "sedna_lib.compat.core.base"),
    ("sedna.core.joint_inference", "sedna_lib.compat.core.joint_inference"),
    ("sedna.core.federated_learning", "sedna_lib.compat.core.federated_learning"),
    ("sedna.core.incremental_learning", "sedna_lib.compat.core.incremental_learning"),
    ("sedna.core.lifelong_learning.lifelong_learning", "sedna_lib.compat.core.lifelong_learning"),
])
def test_alias_is_the_same_module_object(alias, target):
    assert importlib.import_module(alias) is importlib.import_module(target)


def test_classes_are_identical_through_both_paths():
    from sedna.common.config import BaseConfig
    from sedna.core.base import JobBase

    import sedna_lib.compat.config
    import sedna_lib.compat.core.base

    assert BaseConfig is sedna_lib.compat.config.BaseConfig and JobBase is sedna_lib.compat.core.base.JobBase


def test_pickle_naming_sedna_paths_loads():
    # protocol 0 pickle written as Sedna would write it, naming sedna.common.constant
    payload = b"csedna.common.constant\nK8sResourceKind\np0\n(Vlifelonglearningjob\np1\ntp2\nRp3\n."
    # and a data source pickled under sedna.datasources
    from sedna_lib.compat.constant import K8sResourceKind
    from sedna_lib.datasources import TxtDataParse

    ds = TxtDataParse("test")
    ds.x = [1, 2]
    data = pickle.dumps(ds, protocol=0).replace(b"sedna_lib.datasources", b"sedna.datasources")

    assert pickle.loads(payload) is K8sResourceKind.LIFELONG_JOB
    assert b"sedna.datasources" in data
    assert pickle.loads(data).x == [1, 2]


def test_fresh_interpreter_resolves_a_sedna_pickle_without_prior_imports():
    code = (
        "import pickle, sedna\n"
        "p = b'csedna.common.constant\\nK8sResourceKindStatus\\n(Vcompleted\\ntR.'\n"
        "print(pickle.loads(p).value)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "completed"


@pytest.mark.parametrize("alias", sorted(sedna.ALIASES))
def test_every_alias_imports(alias):
    module = importlib.import_module(alias)

    assert module is importlib.import_module(sedna.ALIASES[alias])


def test_an_aliased_module_keeps_its_own_spec_so_its_relative_imports_stay_in_sedna_lib(tmp_path):
    # the import system stamps the alias's spec on the module the alias loader returns; Python 3.12
    # warns at a relative import where __package__ and __spec__.parent disagree, and resolves it from
    # __spec__ once __package__ is no longer read
    code = (
        "import importlib, sys, warnings\n"
        "warnings.simplefilter('error')\n"
        "import sedna\n"
        "for alias in sorted(sedna.ALIASES):\n"
        "    importlib.import_module(alias)\n"
        "wrong = [t for t in set(sedna.ALIASES.values())\n"
        "         if sys.modules[t].__spec__.name != t or sys.modules[t].__spec__.parent != sys.modules[t].__package__]\n"
        "print(wrong)\n"
        "from sedna.service.server.knowledgeBase.server import KnowledgeBaseStore\n"
        f"store = KnowledgeBaseStore({str(tmp_path / 'kb')!r}, {str(tmp_path / 'kb.sqlite3')!r})\n"
        "store.update_index(b'{\"seen_task\": {\"task_groups\": []}, \"unseen_task\": {\"task_groups\": []}}')\n"
        "store.close()\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)

    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["[]", "ok"]


def test_feature_clients_are_lazy_re_exports():
    from sedna.service.client import AggregationClient, KBClient

    from sedna_lib.transport.kb import KBClient as NativeKBClient
    from sedna_lib.transport.ws import AggregationClient as NativeAggregationClient

    assert KBClient is NativeKBClient and AggregationClient is NativeAggregationClient


def test_sedna_aggregation_server_module_holds_both_servers_from_the_compat_floor():
    from sedna.service.server import AggregationServer as FromPackage
    from sedna.service.server import AggregationServerV2 as V2FromPackage
    from sedna.service.server.aggregation import AggregationServer, AggregationServerV2

    import sedna_lib.servers
    from sedna_lib.compat.server.aggregation import AggregationServerV2 as CompatV2
    from sedna_lib.servers.aggregation import AggregationServer as Native

    assert AggregationServer is FromPackage is Native
    assert AggregationServerV2 is V2FromPackage is CompatV2 and issubclass(CompatV2, Native)
    assert "AggregationServerV2" not in dir(sedna_lib.servers)
