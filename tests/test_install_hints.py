"""Every "how to install" hint is a command that works outside a clone: one helper formats them all."""

import ast
import configparser
import pathlib
import re
import sys

import pytest

from sedna_lib._version import DISTRIBUTION, install_hint
from sedna_lib.exceptions import BackendUnavailableError

ROOT = pathlib.Path(__file__).resolve().parents[1]
# "pip install sedna_lib[...]": a name looked up on an index, where sedna_lib is not published
INDEX_INSTALL = re.compile(
    r"\bpip install\s+(?:-\S+\s+)*[\"']?(?:sedna_lib|sedna)\b(?![^\s\"']*\s*@\s*git\+)")


def _setup_cfg():
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(ROOT / "setup.cfg")
    return cfg


def test_the_distribution_name_is_setup_cfg_s():
    assert DISTRIBUTION == _setup_cfg()["metadata"]["name"]


def test_no_message_in_the_code_installs_sedna_lib_by_name_from_an_index():
    bad = []
    for folder in ("sedna_lib", "algorithms", "sedna"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                text = node.value if isinstance(node, ast.Constant) else None
                if isinstance(text, str) and INDEX_INSTALL.search(text):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.strip()[:80]}")
    assert bad == []


@pytest.mark.parametrize("extra", ["torch", "server", "privacy", "kafka", "secagg"])
def test_an_extra_is_spelt_as_the_requirements_setup_cfg_gives_it(extra):
    section = _setup_cfg()["options.extras_require"][extra]
    wanted = [line.strip() for line in section.splitlines() if line.strip()]

    hint = install_hint(f"{DISTRIBUTION}[{extra}]")

    assert hint.startswith("pip install ") and f"the '{extra}' extra of sedna_lib" in hint
    names = [re.split(r"[<>=!~\[]", spec)[0] for spec in re.findall(r'"([^"]+)"', hint)]
    assert names == [re.split(r"[<>=!~\[]", spec)[0] for spec in wanted]
    assert "sedna_lib[" not in hint


def test_a_requirement_with_a_version_is_quoted_for_the_shell():
    assert install_hint("minio").startswith('pip install "minio>=7.2')
    assert install_hint("mindspore") == "pip install mindspore"


def test_an_unknown_extra_names_the_clone_or_wheel_not_an_index():
    assert install_hint("sedna_lib[nope]").startswith('pip install "<sedna_lib clone or wheel>[nope]"')


def test_backend_unavailable_error_uses_the_hint():
    error = BackendUnavailableError.missing("torch", "sedna_lib[torch]", note="for the torch backend")

    assert str(error) == f"torch is not installed; {install_hint('sedna_lib[torch]')} (for the torch backend)"
    assert isinstance(error, ImportError)


def test_a_package_that_is_there_but_fails_to_import_is_not_called_missing(tmp_path, monkeypatch):
    # kafka-python 2.0.2 on Python 3.12: the package is installed, its vendored six is not importable
    package = tmp_path / "kafka"
    package.mkdir()
    (package / "__init__.py").write_text("from kafka.vendor.six.moves import range\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [n for n in sys.modules if n == "kafka" or n.startswith("kafka.")]:
        monkeypatch.delitem(sys.modules, name)
    from sedna_lib.datasources.kafka import _kafka

    with pytest.raises(BackendUnavailableError) as info:
        _kafka()

    message = str(info.value)
    assert message.startswith("kafka-python is installed but cannot be imported (")
    assert "kafka.vendor" in message and "is not installed" not in message
    assert install_hint("sedna_lib[kafka]") in message


def test_a_package_that_is_absent_is_called_missing():
    try:
        import no_such_package_here  # noqa: F401
    except ImportError as exc:
        error = BackendUnavailableError.missing("no_such_package_here", "no_such_package_here", error=exc)

    assert str(error) == "no_such_package_here is not installed; pip install no_such_package_here"
