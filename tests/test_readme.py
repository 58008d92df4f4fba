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


def _demo_sample() -> list[str]:
    text = README.read_text()
    block = re.search(r"`make demo` runs.*?```text\n(.*?)```", text, re.S).group(1)
    return block.rstrip("\n").splitlines()


def test_sample_output_has_the_sections_and_last_lines_the_demo_prints():
    from sedna_lib.demo.__main__ import NEXT, SECTIONS

    sample = _demo_sample()

    assert [line[3:] for line in sample if line.startswith("== ")] == [title for _, title in SECTIONS]
    assert sample[-2].startswith("Demo finished; files are in ")
    assert sample[-1] == NEXT
    page = re.search(r"Next: read (\S+),", NEXT).group(1)
    assert (README.parent / page).is_file()
    heading = re.search(r'"(.+)"', NEXT).group(1)
    assert f"\n## {heading}\n" in (README.parent / page).read_text()


@pytest.mark.parametrize("page", ["README.md", "docs/index.md", "docs/getting-started.md"])
def test_an_install_from_the_clone_path_comes_after_the_clone_command(page):
    text = (README.parent / page).read_text()
    uses = [m.start() for m in re.finditer(r'pip install (-e )?"\./sedna_lib\[', text)]

    assert uses or 'pip install ".[server]"' in text
    for start in uses:
        before = text[max(0, start - 200):start]
        assert "git clone <repository URL> sedna_lib" in before, before


def test_the_epochs_parameter_is_read_as_a_number(monkeypatch):
    import sedna_lib

    text = README.read_text()
    calls = re.findall(r'(.{4})sedna_lib\.context\.get_parameters\("epochs", 1\)', text)
    assert calls and all(before == "int(" for before in calls)
    monkeypatch.setenv("EPOCHS", "3")
    assert int(sedna_lib.context.get_parameters("epochs", 1)) == 3
    monkeypatch.delenv("EPOCHS")
    assert int(sedna_lib.context.get_parameters("epochs", 1)) == 1
