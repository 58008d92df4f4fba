"""Every example folder has a README that starts with the commands that run it from a fresh clone."""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


# Folders with a program to run (the others hold deployment files, such as monitoring/).
PROGRAMS = [p for p in EXAMPLES if any(p.rglob("*.py"))]


@pytest.mark.parametrize("folder", EXAMPLES, ids=lambda p: p.name)
def test_every_example_folder_has_a_readme_that_starts_with_commands(folder):
    readme = folder / "README.md"
    assert readme.is_file(), f"examples/{folder.name} has no README.md"
    first = readme.read_text(encoding="utf-8").split("\n## ", 2)[1]

    assert "```bash" in first or "```sh" in first, "the first section gives the commands"


@pytest.mark.parametrize("folder", PROGRAMS, ids=lambda p: p.name)
def test_example_readme_starts_with_its_make_target_and_shows_real_output(folder):
    text = (folder / "README.md").read_text(encoding="utf-8")
    sections = re.findall(r"^## (.+)$", text, re.M)
    target = f"example-{folder.name.replace('_', '-')}"

    assert sections and sections[0].startswith("Run"), "the first section says how to run it"
    first = text.split("\n## ", 2)[1]
    assert f"make {target}" in first
    assert re.search(rf"^{re.escape(target)}:", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)
    assert "```text" in first, "the output of a real run follows the commands"
    assert not re.search(r"^\s*python3? ", first, re.M), "say which interpreter: .venv/bin/python or $PYTHON"


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
@pytest.mark.parametrize("script", sorted((ROOT / "examples").glob("*/run.sh")), ids=lambda p: p.parent.name)
def test_example_run_scripts_parse(script):
    done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30)

    assert done.returncode == 0, done.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_joint_inference_run_script_starts_the_edge_once_the_cloud_answers(tmp_path):
    import os
    import sys

    env = {**os.environ, "PYTHON": sys.executable, "PORT": str(_free_port()), "LC_SERVER": "http://127.0.0.1:9"}
    done = subprocess.run(["bash", str(ROOT / "examples" / "joint_inference" / "run.sh")], capture_output=True,
                          text=True, timeout=240, env=env)

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    answered = re.search(r"^\[edge\] cloud accuracy on the (\d+) hard digits it answered", done.stdout, re.M)
    assert answered and int(answered.group(1)) > 200, done.stdout[-2000:]
    assert re.search(r"^\[edge\] joint accuracy +0\.9\d\d", done.stdout, re.M)


class _Proba:
    def predict(self, x):
        return [0.9, 0.1]


def _offload_folder(monkeypatch, home, xdg=None):
    from sedna_lib import Context
    from sedna_lib.joint_inference import JointInference

    monkeypatch.setenv("HOME", str(home))
    for name in ("SEDNA_WORK_DIR", "XDG_STATE_HOME", "JOB_NAME"):
        monkeypatch.delenv(name, raising=False)
    if xdg:
        monkeypatch.setenv("XDG_STATE_HOME", str(xdg))
    monkeypatch.setenv("SERVICE_NAME", "digits")
    monkeypatch.setenv("BIG_MODEL_IP", "127.0.0.1")
    monkeypatch.setenv("BIG_MODEL_PORT", "5000")
    job = JointInference(_Proba(), {"method": "EdgeOnly"}, context=Context.from_env(), report=False)
    try:
        return str(job.queue.folder)
    finally:
        job.close()


def test_the_offload_queue_is_where_the_example_readme_and_observability_page_say(monkeypatch, tmp_path):
    readme = (ROOT / "examples" / "joint_inference" / "README.md").read_text(encoding="utf-8")
    page = (ROOT / "docs" / "observability.md").read_text(encoding="utf-8")
    said = re.search(r"`~/(\.local/state/sedna_lib/offload/\S+?)/?`", readme).group(1)
    logged = re.search(r"kept in /home/me/(\S+) until it is back", page).group(1)

    assert ".sedna_lib/offload" not in readme + page
    assert _offload_folder(monkeypatch, tmp_path) == str(tmp_path / said) == str(tmp_path / logged)
    assert _offload_folder(monkeypatch, tmp_path, xdg=tmp_path / "xdg") == str(
        tmp_path / "xdg" / said.removeprefix(".local/state/"))
    assert "`$XDG_STATE_HOME/sedna_lib` when `XDG_STATE_HOME` is an absolute path" in readme
