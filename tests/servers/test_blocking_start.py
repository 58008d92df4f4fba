"""A user's script serving with a blocking ``start()`` and stopped with Ctrl-C (SIGINT): the server stops
(its "stopped" line, its port free again) before the process ends, and a ``stop()`` after the
interruption still stops it."""

import pathlib
import re
import signal
import subprocess
import textwrap

import pytest
from worker_process import WorkerProcess

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXIT_BOUND = 20.0  # seconds; a clean exit takes about one

PRELUDE = textwrap.dedent("""
    import logging
    import re
    import socket
    import sys

    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
    ports = []  # where the server said it listens


    class StartedLine(logging.Handler):
        def emit(self, record):
            found = re.search(r" started on \\w+://127\\.0\\.0\\.1:(\\d+)", record.getMessage())
            if found:
                ports.append(int(found[1]))


    logging.getLogger().addHandler(StartedLine())


    def port_state():
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", ports[0]))
            except OSError:
                return "PORT STILL BOUND"
        return "PORT RELEASED"


    class Model:
        def predict(self, data, **kwargs):
            return [1]
""")

SERVERS = {
    "inference": textwrap.dedent("""
        from sedna_lib.servers.inference import InferenceServer

        server = InferenceServer(Model(), "svc", host="127.0.0.1", http_port=0)
    """),
    "knowledge-base": textwrap.dedent("""
        from sedna_lib.servers.knowledge_base import KBServer

        server = KBServer("127.0.0.1", 0, save_dir="kb")
    """),
    "aggregation": textwrap.dedent("""
        from sedna_lib.servers.aggregation import AggregationServer

        server = AggregationServer("FedAvg", host="127.0.0.1", http_port=0)
    """),
}


def _run_until_interrupted(tmp_path, script, signum=signal.SIGINT):
    """Run ``script``, send ``signum`` once it logged "started on", and return (output, exit status)."""
    (tmp_path / "serve.py").write_text(script)
    worker = WorkerProcess(tmp_path, "serve.py", {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                                  "HOME": str(tmp_path)}, tmp_path)
    try:
        while not re.search(r" started on \w+://", worker.output):
            if not worker._alive_after(0.05):
                pytest.fail(f"the server never started:\n{worker.output[-3000:]}")
        worker.proc.send_signal(signum)
        try:
            status = worker.proc.wait(timeout=EXIT_BOUND)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the script did not exit within {EXIT_BOUND} s of {signal.Signals(signum).name}:\n"
                        f"{worker.output[-3000:]}")
    finally:
        worker.stop()
    return worker.output, status


@pytest.mark.parametrize("kind", list(SERVERS))
def test_ctrl_c_in_a_blocking_start_stops_the_server_before_the_interrupt_reaches_the_script(tmp_path, kind):
    script = PRELUDE + SERVERS[kind] + textwrap.dedent("""
        try:
            server.start()  # serves until stopped
        except KeyboardInterrupt:
            print(port_state(), flush=True)
            raise
    """)

    output, _ = _run_until_interrupted(tmp_path, script)

    assert " stopped after " in output, output
    assert "PORT RELEASED" in output, output
    assert output.index(" stopped after ") < output.index("PORT RELEASED")
    assert "KeyboardInterrupt" in output  # the interrupt still reaches the script, after the stop


def test_a_server_interrupted_while_its_script_waits_on_it_is_still_stopped_by_stop(tmp_path):
    script = PRELUDE + SERVERS["inference"] + textwrap.dedent("""
        server.start(block=False)
        try:
            server.wait()  # serves until stopped
        except KeyboardInterrupt:
            print("RUNNING" if server._server.is_running else "NOT RUNNING", flush=True)
            server.stop()
            print(port_state(), flush=True)
    """)

    output, _ = _run_until_interrupted(tmp_path, script)

    assert "RUNNING" in output.splitlines(), output  # Python still takes the serving thread for alive
    assert " stopped after " in output and "PORT RELEASED" in output, output


@pytest.mark.parametrize("kind", list(SERVERS))
def test_sigterm_to_a_blocking_start_stops_the_server_and_start_returns(tmp_path, kind):
    # a pod is ended with SIGTERM: the process died at once (status -15), mid-request, with no
    # "stopped" line (an original Sedna worker's server, uvicorn, stops gracefully)
    script = PRELUDE + SERVERS[kind] + textwrap.dedent("""
        import signal

        server.start()  # serves until stopped
        print("START RETURNED", port_state(), flush=True)
        print("HANDLER PUT BACK" if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL else "HANDLER KEPT",
              flush=True)
    """)

    output, status = _run_until_interrupted(tmp_path, script, signal.SIGTERM)

    assert status == 0, output
    assert " stopped after " in output, output
    assert "START RETURNED PORT RELEASED" in output and "HANDLER PUT BACK" in output, output
