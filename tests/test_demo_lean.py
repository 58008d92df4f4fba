"""The demo needs no deep-learning framework: it runs with torch, TensorFlow and Keras unimportable.

``make demo`` installs only ``sedna_lib[server]`` (see the Makefile); this keeps it true.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# A finder first on sys.meta_path that refuses the frameworks, as if they were not installed.
BLOCK = """import sys
class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition('.')[0] in ('torch', 'tensorflow', 'keras'):
            raise ModuleNotFoundError(f'No module named {name!r}', name=name)
sys.meta_path.insert(0, _NotInstalled())
"""


@pytest.mark.integration
@pytest.mark.slow
def test_demo_sections_run_without_torch_or_tensorflow(tmp_path):
    # The lifelong section takes a minute under load; the others show the rest of the library.
    sections = ["foundation", "joint_inference", "federated_learning", "incremental_learning"]
    code = BLOCK + ("from sedna_lib.demo.__main__ import main\n"
                    f"sys.exit(main(['--workdir', {str(tmp_path)!r}, '--only', *{sections!r}]))\n")

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert done.stdout.count("\n== ") == len(sections)
    assert "test accuracy" in done.stdout


def test_lifelong_demo_section_imports_no_deep_learning_framework():
    code = BLOCK + "import sedna_lib.demo._lifelong_learning, sedna_lib.lifelong_learning\n"

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr[-3000:]
