"""Every bad command-line argument is an error naming it: exit status 2 or 1, no traceback, nothing run."""

from __future__ import annotations

import os
import subprocess
import sys

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


@pytest.mark.parametrize(("argv", "option", "value"), [
    (["aggregate", "--exit-round", "0"], "--exit-round", "0"),
    (["aggregate", "--participants", "0"], "--participants", "0"),
    (["aggregate", "--participants", "-1"], "--participants", "-1"),
    (["aggregate", "--exit-round", "two"], "--exit-round", "'two'"),
    (["aggregate", "--port", "70000"], "--port", "70000"),
    (["kb", "--port", "-5"], "--port", "-5"),
    (["serve-big-model", "--estimator", "x:Y", "--port", "http"], "--port", "'http'"),
    (["incremental", "--rounds", "0"], "--rounds", "0"),
    (["incremental", "--initial", "-3"], "--initial", "-3"),
    (["incremental", "--budget", "1.5"], "--budget", "1.5"),
    (["incremental", "--eval-fraction", "0"], "--eval-fraction", "0"),
    (["incremental", "--eval-fraction", "nan"], "--eval-fraction", "nan"),
    (["incremental", "--budget", "inf"], "--budget", "inf"),
    (["incremental", "--min-delta", "nan"], "--min-delta", "nan"),
    (["incremental", "--min-delta", "inf"], "--min-delta", "inf"),
    (["incremental", "--min-delta", "-0.1"], "--min-delta", "-0.1"),
    (["incremental", "--min-delta", "some"], "--min-delta", "'some'"),
])
def test_out_of_range_number_is_an_error_naming_the_option_and_value(argv, option, value, capsys):
    _fails_naming(lambda: main(argv), capsys, f"argument {option}", value)


@pytest.mark.parametrize(("argv", "expected"), [
    (["incremental", "--budget", "0"],
     "argument --budget: the value must be a finite number in (0, 1], got '0'"),
    (["incremental", "--min-delta", "nan"],
     "argument --min-delta: the value must be a finite number >= 0, got 'nan'"),
])
def test_number_option_error_says_what_the_option_takes(argv, expected, capsys):
    _fails_naming(lambda: main(argv), capsys, expected)


def test_number_options_take_their_bounds():
    from sedna_lib.cli import fraction, non_negative_number

    assert (fraction("1"), fraction(" 1e-3 "), non_negative_number("0"), non_negative_number("2.5")) == \
        (1.0, 0.001, 0.0, 2.5)


def test_unknown_algorithm_kind_is_an_error_listing_the_kinds(capsys):
    from sedna_lib.registry import Kind

    err = _fails_naming(lambda: main(["algorithms", "--kind", "nosuch"]), capsys, "--kind", "'nosuch'")

    assert all(kind.label in err for kind in Kind)


def test_incremental_with_a_missing_data_file_is_an_error_naming_it(tmp_path, capsys):
    missing = tmp_path / "nope.npz"

    assert main(["incremental", "--data", str(missing), "--no-progress"]) == 1

    err = capsys.readouterr().err
    assert f"--data {missing}" in err and "no such file" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("content", "says"), [
    (b"not an archive", "is not one"),
    ("single-array", "single array"),
    ("wrong-names", "['a']"),
])
def test_incremental_with_an_unusable_data_file_is_an_error_saying_why(tmp_path, capsys, content, says):
    import numpy as np

    path = tmp_path / "data.npz"
    if content == "single-array":
        with open(path, "wb") as fh:
            np.save(fh, np.zeros(3))
    elif content == "wrong-names":
        np.savez(path, a=np.zeros(3))
    else:
        path.write_bytes(content)

    assert main(["incremental", "--data", str(path), "--no-progress"]) == 1

    err = capsys.readouterr().err
    assert f"--data {path}" in err and says in err and "Traceback" not in err


def test_plain_text_removes_roles_literals_and_citations():
    from sedna_lib.cli import plain_text

    text = plain_text("Like :class:`~sedna_lib.algorithms.FedAvg`, :meth:`.fit` and "
                      ":func:`the helper <a.b>`: ``w = sum n w`` over `k` [1]_.")

    assert text == "Like FedAvg, fit and the helper: w = sum n w over k [1]."


def test_describe_docstring_reads_the_summary_and_the_references():
    from sedna_lib.cli import describe_docstring

    doc = '''Federated averaging: ``w = sum_k n_k w_k``,
    layer by layer [1]_.

    Parameters
    ----------
    x : int
        Ignored.

    References
    ----------
    .. [1] McMahan et al., "Communication-Efficient Learning",
       AISTATS 2017.

    Examples
    --------
    >>> 1
    1
    '''

    assert describe_docstring(doc) == {
        "summary": "Federated averaging: w = sum_k n_k w_k, layer by layer [1].",
        "references": ['[1] McMahan et al., "Communication-Efficient Learning", AISTATS 2017.'],
    }


def test_algorithms_details_show_no_raw_markup(capsys):
    import re

    assert main(["algorithms", "--details"]) == 0

    out = capsys.readouterr().out
    assert "FedAvg" in out and "McMahan" in out
    assert not re.search(r":(?:class|meth|func|attr|mod):|``|\]_", out)


def test_readme_lists_every_subcommand():
    import argparse
    import pathlib

    from sedna_lib.cli import build_parser

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))

    assert [name for name in sub.choices if f"`sedna-lib {name}`" not in readme] == []


@pytest.mark.parametrize("argv, option", [
    (["kb", "--save-dir", "/dev/null/x"], "--save-dir"),
    (["incremental", "--output", "/dev/null/x"], "--output"),
    (["incremental", "--hard-examples", "/dev/null/x"], "--hard-examples"),
    (["incremental", "--hard-example-spool", "/dev/null/x/y"], "--hard-example-spool"),
])
def test_a_folder_that_cannot_exist_is_an_error_naming_the_option(argv, option, capsys):
    err = _fails_naming(lambda: main(argv), capsys, f"argument {option}", "/dev/null", "not a folder")

    assert "NotADirectoryError" not in err


def test_a_folder_option_naming_a_file_is_an_error(tmp_path, capsys):
    existing = tmp_path / "results.txt"
    existing.write_text("x")

    _fails_naming(lambda: main(["incremental", "--output", str(existing)]), capsys, "argument --output",
                  str(existing), "not a folder")


@pytest.mark.parametrize("argv", [
    ["serve-big-model", "--estimator", "foo"],
    ["incremental", "--estimator", "foo"],
    ["incremental", "--estimator", "sedna_lib_no_such_module:Estimator", "--no-progress"],
    ["incremental", "--estimator", "json:NoSuchThing", "--no-progress"],
])
def test_an_estimator_that_cannot_be_loaded_is_a_usage_error_showing_the_forms(argv, capsys):
    err = _fails_naming(lambda: main(argv), capsys, "argument --estimator", "module:Attribute",
                        "path/to/file.py:Attribute")

    assert "foo" in err or "no_such" in err.lower() or "NoSuchThing" in err


def _sedna_lib(argv, cwd):
    """Run ``sedna-lib argv`` in its own process, its work folder under ``cwd``."""
    env = {**os.environ, "SEDNA_WORK_DIR": str(cwd / "work")}
    return subprocess.run([sys.executable, "-m", "sedna_lib.cli", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_an_unknown_miner_is_a_usage_error_listing_the_miners_before_anything_runs(tmp_path):
    from sedna_lib.registry import Kind, default_registry

    output = tmp_path / "rounds"
    done = _sedna_lib(["incremental", "--miner", "foo", "--dataset", "iris", "--rounds", "1",
                       "--output", str(output), "--no-progress"], cwd=tmp_path)

    assert done.returncode == 2, done.stderr
    assert "incremental: error: argument --miner: no hard-example miner named 'foo'" in done.stderr
    assert all(name in done.stderr for name in default_registry.names(Kind.HARD_EXAMPLE_MINING))
    assert "Traceback" not in done.stderr and done.stdout == "" and not output.exists()


def test_a_miner_the_estimator_module_registers_is_known_to_the_incremental_command(tmp_path):
    (tmp_path / "interface.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n"
        "from sedna_lib.registry import Kind, register\n"
        "\n"
        "\n"
        "@register(Kind.HARD_EXAMPLE_MINING, 'EveryExample')\n"
        "class EveryExample:\n"
        "    def is_hard(self, outputs):\n"
        "        return [True] * len(outputs)\n"
        "\n"
        "\n"
        "Estimator = LogisticRegression(max_iter=500)\n", encoding="utf-8")

    done = _sedna_lib(["incremental", "--estimator", "interface:Estimator", "--miner", "EveryExample",
                       "--dataset", "iris", "--rounds", "1", "--initial", "20", "--no-progress"],
                      cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "round 1: uploaded" in done.stdout
