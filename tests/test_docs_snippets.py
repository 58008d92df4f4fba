"""The Python examples in the user documentation run against the current library."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)

# Blocks that run on their own: (page, index of the ```python block on the page, its heading).
# getting-started.md block 0 ("A first script") runs in tests/test_docs_site.py, which also checks its output.
SELF_CONTAINED = [
    ("index.md", 0, "Getting started"),
    ("sedna-compatibility.md", 0, "Sedna compatibility"),
    ("storage.md", 1, "Configuration"),
    ("llm-joint-inference.md", 0, "A first run (offline)"),
]

# Fragments that use names the page leaves to the reader: a small setup defines them (tiny synthetic data).
_DIGITS = """
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
x, y = load_digits(return_X_y=True)
x = x / 16.0
x0, y0, x_stream, y_stream, x_eval, y_eval = x[:200], y[:200], x[200:800], y[200:800], x[1200:], y[1200:]
"""
_TASKS = """
import numpy as np
rng = np.random.default_rng(0)
x = rng.normal(size=(120, 4))
y = (x[:, 0] > 0).astype(int)
origins = np.array(["a", "b"] * 60)
x_new, x_test, y_test = rng.normal(size=(5, 4)), x[:30], y[:30]
"""
_TORCH = """
import numpy as np, torch
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
rng = np.random.default_rng(0)
x_train = rng.normal(size=(64, 4)).astype("float32")
y_train = (x_train[:, 0] > 0).astype("int64")
x_val, y_val, x_test, y_test = x_train, y_train, x_train, y_train
"""
FRAGMENTS = [
    # (page, block index, heading, setup, replacements applied to the block, module the run needs)
    ("incremental-learning.md", 1, "Local API", _DIGITS, {}, None),
    ("lifelong-learning.md", 0, "Using it", _TASKS, {}, None),
    ("backends.md", 0, "Backends", _TORCH, {'"/models/"': '"models/"'}, "torch"),
]


def _block(page: str, index: int) -> str:
    blocks = BLOCK.findall((DOCS / page).read_text(encoding="utf-8"))
    assert index < len(blocks), f"docs/{page} has {len(blocks)} python blocks, expected block {index}"
    return blocks[index]


def _run(code: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.mark.parametrize(("page", "index", "heading"), SELF_CONTAINED)
def test_self_contained_block_runs(page, index, heading, tmp_path):
    code = _block(page, index)

    proc = _run(code, tmp_path)

    assert proc.returncode == 0, f"docs/{page} block {index} ({heading}) failed:\n{proc.stderr[-2000:]}"


@pytest.mark.parametrize(("page", "index", "heading", "setup", "replace", "needs"), FRAGMENTS,
                         ids=[f"{page}-{index}" for page, index, *_ in FRAGMENTS])
def test_fragment_runs_after_a_setup(page, index, heading, setup, replace, needs, tmp_path):
    if needs:
        pytest.importorskip(needs)
    code = _block(page, index)
    for old, new in replace.items():
        assert old in code, f"docs/{page} block {index} no longer contains {old!r}"
        code = code.replace(old, new)

    proc = _run(setup + "\n" + code, tmp_path)

    assert proc.returncode == 0, f"docs/{page} block {index} ({heading}) failed:\n{proc.stderr[-2000:]}"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_pipelines_joint_inference_block_runs_against_a_big_model_service(tmp_path):
    code = _block("pipelines.md", 0)
    assert code.count("5041") == 2, "the block serves and calls the big model on one port"
    assert 'service="big"' in code and "BigModelService(" in code

    proc = _run(code.replace("5041", str(_free_port())), tmp_path)

    assert proc.returncode == 0, f"docs/pipelines.md block 0 failed:\n{proc.stderr[-2000:]}"
    assert re.fullmatch(r"\d+ of 100 digits answered by the cloud\n", proc.stdout), proc.stdout
    assert int(proc.stdout.split()[0]) > 0, "some digits reach the cloud through its /sedna route"
