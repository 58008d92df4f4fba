import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import requests

from sedna_lib.cli import build_parser, load_object, main


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("command", ["demo", "algorithms", "config", "serve-big-model", "aggregate", "kb", "incremental"])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "usage: sedna-lib " + command in capsys.readouterr().out


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_algorithms_lists_registered_names_without_loading(capsys):
    assert main(["algorithms", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert {"IBT", "Threshold", "CrossEntropy", "Random", "EdgeOnly", "CloudOnly"} <= set(
        listing["hard_example_mining"])
    assert "FedAvg" in listing["aggregation"]
    assert "torch" in listing["backends"]


def test_algorithms_details_show_parameters(capsys):
    assert main(["algorithms", "--kind", "hard_example_mining", "--details", "--json"]) == 0
    details = json.loads(capsys.readouterr().out)["hard_example_mining"]
    assert details["IBT"]["parameters"]["threshold_img"] == 0.5
    assert details["IBT"]["class"].startswith("sedna_lib.algorithms.hard_example_mining")


def test_config_hides_secrets_and_shows_changes(monkeypatch, capsys):
    monkeypatch.setenv("AGG_PORT", "8123")
    monkeypatch.setenv("SECRET_ACCESS_KEY", "very-secret")
    assert main(["config", "--changed"]) == 0
    out = capsys.readouterr().out
    assert "AGG_PORT" in out and "8123" in out
    assert "very-secret" not in out and "<set>" in out
    assert "LC_SERVER" not in out


def test_bad_configuration_is_reported_as_an_error(monkeypatch, capsys):
    monkeypatch.setenv("AGG_PORT", "not-a-port")
    assert main(["config"]) == 1
    assert "AGG_PORT must be an int" in capsys.readouterr().err


def test_load_object_from_module_and_file(tmp_path):
    assert load_object("json:dumps") is json.dumps
    (tmp_path / "interface.py").write_text("class Estimator:\n    pass\n")
    assert load_object(f"{tmp_path / 'interface.py'}:Estimator").__name__ == "Estimator"
    with pytest.raises(SystemExit, match="must look like module:Attribute"):
        load_object("json")
    with pytest.raises(SystemExit, match="cannot load"):
        load_object("json:no_such_thing")


def test_parser_knows_every_command():
    choices = build_parser()._subparsers._group_actions[0].choices
    assert {"demo", "algorithms", "config", "serve-big-model", "aggregate", "kb"} <= set(choices)


def _wait_for(url, proc, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited early: {proc.communicate()}")
        try:
            return requests.get(url, timeout=1)
        except requests.ConnectionError:
            time.sleep(0.1)  # polling a subprocess's port: no event to wait on across processes
    raise AssertionError(f"{url} did not answer within {timeout} s")


@pytest.mark.integration
def test_serve_big_model_serves_the_estimator(tmp_path):
    (tmp_path / "interface.py").write_text(textwrap.dedent("""
        class Estimator:
            def __init__(self, **kwargs):
                pass
            def load(self, model_url=""):
                pass
            def predict(self, data, **kwargs):
                return [sum(row) for row in data]
    """))
    port = _free_port()
    env = {**os.environ, "SERVICE_NAME": "adder", "MODEL_LOAD_MODE": "none", "BIG_MODEL_BIND_IP": "127.0.0.1"}
    proc = subprocess.Popen([sys.executable, "-m", "sedna_lib.cli", "serve-big-model", "--estimator",
                             "interface:Estimator", "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(f"http://127.0.0.1:{port}/adder", proc)
        reply = requests.post(f"http://127.0.0.1:{port}/adder/predict", json={"data": [[1, 2], [3, 4]]}, timeout=5)
        assert reply.status_code == 200 and reply.json()["result"] == [3, 7]
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.integration
def test_aggregate_starts_an_aggregation_server(tmp_path):
    port = _free_port()
    env = {**os.environ, "AGG_BIND_IP": "127.0.0.1"}
    proc = subprocess.Popen([sys.executable, "-m", "sedna_lib.cli", "aggregate", "--aggregation", "FedAvg",
                             "--exit-round", "1", "--participants", "1", "--port", str(port)], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        reply = _wait_for(f"http://127.0.0.1:{port}/FedAvg", proc)
        assert reply.status_code == 200 and reply.json()["clients"] == []
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.integration
def test_kb_serves_the_knowledge_base_with_its_database_in_the_save_dir(tmp_path):
    port = _free_port()
    save_dir = tmp_path / "kb"
    proc = subprocess.Popen([sys.executable, "-m", "sedna_lib.cli", "kb", "--host", "127.0.0.1", "--port",
                             str(port), "--save-dir", str(save_dir)], cwd=tmp_path, env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        reply = _wait_for(f"http://127.0.0.1:{port}/knowledgebase/health", proc)
        assert reply.status_code == 200
        upload = requests.post(f"http://127.0.0.1:{port}/knowledgebase/file/upload",
                               files={"file": ("model.bin", b"weights")}, timeout=5)
        assert upload.status_code == 200
        status = requests.post(f"http://127.0.0.1:{port}/knowledgebase/update/status",
                               json={"status": 1, "tasks": None}, timeout=5)
        assert status.status_code in (200, 404), status.text  # touches the database
    finally:
        proc.terminate()
        proc.wait(10)
    assert (save_dir / "model.bin").read_bytes() == b"weights"
    assert (save_dir / "lifelong_kb.sqlite3").exists() and not (tmp_path / "lifelong_kb.sqlite3").exists()


def test_algorithms_show_the_correct_spelling_of_sedna_misspelt_kind(capsys):
    assert main(["algorithms", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert "TaskDefinitionByDataAttr" in listing["multi_task_learning"]
    assert "multi_task_learening" not in listing
    with pytest.raises(SystemExit):
        main(["algorithms", "--help"])
    assert "multi_task_learening" not in capsys.readouterr().out


@pytest.mark.parametrize("spelling", ["multi_task_learning", "multi_task_learening"])
def test_algorithms_kind_accepts_both_spellings(spelling, capsys):
    assert main(["algorithms", "--kind", spelling, "--json"]) == 0
    assert list(json.loads(capsys.readouterr().out)) == ["multi_task_learning"]


def test_algorithms_unknown_kind_lists_correct_names(capsys):
    with pytest.raises(SystemExit):
        main(["algorithms", "--kind", "nope"])
    err = capsys.readouterr().err
    assert "unknown kind 'nope'" in err and "multi_task_learning" in err
    assert "multi_task_learening" not in err


def test_config_shows_the_work_dir_this_machine_uses(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    assert main(["config", "--json"]) == 0

    rows = [row for group in json.loads(capsys.readouterr().out)["groups"] for row in group["variables"]]
    [work] = [row for row in rows if row["variable"] == "SEDNA_WORK_DIR"]
    assert work["value"] == str(tmp_path / "state" / "sedna_lib") and not work["set"]


def _serve_then_signal(argv, cwd, env, signum):
    """Start ``sedna-lib argv``, wait for its "started" line, send ``signum``; return (status, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "sedna_lib.cli", *argv], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        for line in proc.stderr:  # blocks until the server says where it listens (or the process ends)
            lines.append(line)
            if " started on " in line:
                break
        else:
            raise AssertionError(f"the server never started: {''.join(lines)}")
        url = re.search(r"status page (http://\S+?)/?,", lines[-1])[1]
        assert requests.get(url + "/healthz", timeout=10).status_code == 200  # serving, then the signal
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, "".join(lines) + err


_ESTIMATOR = textwrap.dedent("""
    class Estimator:
        def __init__(self, **kwargs):
            pass
        def load(self, model_url=""):
            pass
        def predict(self, data, **kwargs):
            return [sum(row) for row in data]
""")


@pytest.mark.integration
@pytest.mark.parametrize("command", ["serve-big-model", "kb", "aggregate"])
@pytest.mark.parametrize("signame, status", [("SIGTERM", 0), ("SIGINT", 130)])
def test_a_serving_command_stops_its_server_gracefully_on_a_signal(tmp_path, command, signame, status):
    import signal

    (tmp_path / "interface.py").write_text(_ESTIMATOR)
    env = {**os.environ, "SERVICE_NAME": "adder", "MODEL_LOAD_MODE": "none", "BIG_MODEL_BIND_IP": "127.0.0.1",
           "AGG_BIND_IP": "127.0.0.1"}
    argv = {"serve-big-model": ["serve-big-model", "--estimator", "interface:Estimator", "--port", "0"],
            "kb": ["kb", "--host", "127.0.0.1", "--port", "0", "--save-dir", str(tmp_path / "kb")],
            "aggregate": ["aggregate", "--exit-round", "1", "--participants", "1", "--port", "0"]}[command]

    code, err = _serve_then_signal(argv, tmp_path, env, getattr(signal, signame))

    assert code == status, err
    assert " stopped after " in err, err
    assert "Traceback" not in err, err


def _with_broken_plugin(tmp_path):
    """An environment whose Python sees one more installed package, whose miner plugin fails to import."""
    info = tmp_path / "site" / "broken_miner-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-miner\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[sedna_lib.hard_example_mining]\nAaaBroken = sedna_lib_no_such_module:Miner\n")
    path = os.pathsep.join(filter(None, [str(tmp_path / "site"), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_algorithms_details_report_a_broken_plugin_on_its_line_and_go_on(tmp_path, as_json):
    argv = ["algorithms", "--kind", "hard_example_mining", "--details"] + (["--json"] if as_json else [])
    done = subprocess.run([sys.executable, "-m", "sedna_lib.cli", *argv], cwd=tmp_path,
                          env=_with_broken_plugin(tmp_path), capture_output=True, text=True, timeout=120)

    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "1 plugin failed to load: AaaBroken" in done.stderr
    if as_json:
        listing = json.loads(done.stdout)["hard_example_mining"]
        assert "sedna_lib_no_such_module" in listing["AaaBroken"]["error"]
        assert listing["Margin"]["summary"]  # the others are still described
    else:
        [line] = [line for line in done.stdout.splitlines() if "AaaBroken" in line]
        assert "failed to load" in line and "sedna_lib_no_such_module" in line
        assert any(line.lstrip().startswith("Margin ") for line in done.stdout.splitlines())
