"""The README's quick start runs as written (on a free port)."""

import pathlib
import re
import socket
import subprocess
import sys

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_readme_has_exactly_the_two_commands():
    text = README.read_text()
    block = re.search(r"## The two commands.*?```sh\n(.*?)```", text, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
    ci = (README.parent / ".ci" / "run").read_text()
    assert [line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))] == ["make test"]


@pytest.mark.integration
def test_quick_start_runs(tmp_path):
    code = re.search(r"## Quick start.*?```python\n(.*?)```", README.read_text(), re.S).group(1)
    assert len(code.strip().splitlines()) <= 15
    code = code.replace("5000", str(_free_port()))
    script = tmp_path / "quick_start.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    accuracy = float(re.search(r"accuracy (\d\.\d+)", done.stdout).group(1))
    assert accuracy > 0.95


def test_readme_links_point_to_existing_files():
    links = re.findall(r"\]\(((?!https?://)[^)#]+)\)", README.read_text())
    assert links
    missing = [link for link in links if not (README.parent / link).exists()]
    assert missing == []
