"""Every bad command-line argument is an error that names it: exit status 2 or 1, no traceback, nothing run."""

from __future__ import annotations

import pytest

from sedna_lib.cli import main
from sedna_lib.demo.__main__ import SECTION_NAMES
from sedna_lib.demo.__main__ import main as demo_main


def _fails_naming(run, capsys, *names: str, status: int = 2) -> str:
    with pytest.raises(SystemExit) as info:
        run()
    err = capsys.readouterr().err
    assert info.value.code == status, err
    assert "Traceback" not in err
    for name in names:
        assert name in err, err
    return err


@pytest.mark.parametrize("run", [demo_main, lambda argv: main(["demo", *argv])], ids=["module", "sedna-lib"])
def test_demo_unknown_section_is_an_error_listing_the_sections(run, capsys):
    err = _fails_naming(lambda: run(["--only", "joint"]), capsys, "--only", "'joint'")

    for name in SECTION_NAMES:
        assert name in err
    assert "==" not in capsys.readouterr().out     # no section ran


@pytest.mark.parametrize("run", [demo_main, lambda argv: main(["demo", *argv])], ids=["module", "sedna-lib"])
def test_demo_only_without_a_section_is_an_error(run, capsys):
    _fails_naming(lambda: run(["--only"]), capsys, "--only")


def test_demo_runs_only_the_named_section(tmp_path, capsys):
    assert demo_main(["--workdir", str(tmp_path), "--only", "foundation"]) == 0

    out = capsys.readouterr().out
    assert out.count("\n== ") == 1 and "Foundation" in out
