"""Log lines: a silent library (WARNING via lastResort), Sedna's console handler, JSON, counted repeats."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.exceptions import ConfigError
from sedna_lib.observability.logs import (
    RateLimitedLog,
    configure_from_config,
    configure_logging,
    console_handler,
)


def _run(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SEDNA_", "LOG_LEVEL"))}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=environ)


def test_library_alone_prints_warnings_through_last_resort_and_no_info():
    code = ("import logging, sedna_lib; log = logging.getLogger('sedna_lib.x'); "
            "log.info('quiet info'); log.warning('loud warning')")

    out = _run(code)

    assert out.stderr.strip() == "loud warning"  # lastResort prints the bare message
    assert out.stdout == ""


def test_importing_sedna_gives_a_console_handler_at_info_with_sednas_format():
    code = ("import logging, sedna.core.joint_inference; "
            "logging.getLogger('sedna').info('from the script'); "
            "logging.getLogger('sedna_lib.joint_inference').info('from the library'); "
            "logging.getLogger('sedna_lib.x').debug('not at info')")

    lines = _run(code).stderr.strip().splitlines()

    assert len(lines) == 2
    assert lines[0].endswith("<string>(1) [INFO] - from the script")
    assert lines[0].startswith("[20")
    assert lines[1].endswith("[INFO] - from the library")


def test_sedna_log_format_json_makes_sedna_scripts_print_json_lines():
    code = "import logging, sedna; logging.getLogger('sedna').warning('cloud down', extra={'samples': 3})"

    line = json.loads(_run(code, {"SEDNA_LOG_FORMAT": "json"}).stderr.strip())

    assert line["level"] == "WARNING"
    assert line["logger"] == "sedna"
    assert line["message"] == "cloud down"
    assert line["samples"] == 3
    assert line["time"].endswith("Z")


def test_sedna_log_level_overrides_log_level_for_sedna_scripts():
    code = "import logging, sedna; logging.getLogger('sedna_lib.x').debug('deep')"

    out = _run(code, {"LOG_LEVEL": "WARNING", "SEDNA_LOG_LEVEL": "debug"})

    assert "[DEBUG] - deep" in out.stderr


def test_context_from_env_configures_logging_only_when_asked():
    Context.from_env({})
    assert console_handler() is None

    Context.from_env({"SEDNA_LOG_LEVEL": "WARNING"})

    assert console_handler() is not None
    assert logging.getLogger("sedna_lib").level == logging.WARNING


def test_configure_logging_replaces_its_handler_and_writes_json():
    first = io.StringIO()
    second = io.StringIO()
    configure_logging(stream=first)
    configure_logging(fmt="json", stream=second)
    logging.getLogger("sedna_lib.servers.x").info("started", extra={"port": 8080})

    assert first.getvalue() == ""
    assert json.loads(second.getvalue()) | {"time": "t"} == {
        "time": "t", "level": "INFO", "logger": "sedna_lib.servers.x", "message": "started",
        "file": "test_logs.py", "line": json.loads(second.getvalue())["line"], "port": 8080}
    ours = [h for h in logging.getLogger("sedna_lib").handlers if getattr(h, "_sedna_console", False)]
    assert len(ours) == 1


def test_json_lines_carry_the_traceback():
    out = io.StringIO()
    configure_logging(fmt="json", stream=out)
    try:
        raise KeyError("boom")
    except KeyError:
        logging.getLogger("sedna_lib.x").exception("failed")

    line = json.loads(out.getvalue())
    assert line["message"] == "failed"
    assert "KeyError: 'boom'" in line["exc_info"]


def _json_line(**log_kwargs) -> tuple[str, dict]:
    """Log one INFO line through a JsonFormatter; return the text and the object read strictly."""
    from sedna_lib.observability.logs import JsonFormatter

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.observability.json_line")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        logger.info("step %d", 3, **log_kwargs)
    finally:
        logger.removeHandler(handler)

    def strict(token):
        raise ValueError(f"{token} is not JSON")

    text = out.getvalue()
    assert text.count("\n") == 1, text
    return text, json.loads(text, parse_constant=strict)


def test_json_line_keeps_its_own_fields_when_extra_uses_their_names():
    _, line = _json_line(extra={"time": "later", "level": "loud", "logger": "me", "file": "f.py", "line": -1,
                                "extra_line": "taken", "port": 80})

    assert line["level"] == "INFO" and line["logger"] == "tests.observability.json_line"
    assert line["message"] == "step 3" and line["file"] == "test_logs.py" and line["line"] > 0
    assert line["time"].endswith("Z")
    assert (line["extra_time"], line["extra_level"], line["extra_logger"]) == ("later", "loud", "me")
    assert (line["extra_file"], line["extra_extra_line"], line["extra_line"]) == ("f.py", -1, "taken")
    assert line["port"] == 80


def test_json_line_stays_strict_json_with_nan_and_infinity():
    _, line = _json_line(extra={"loss": float("nan"), "gain": float("inf"),
                                "history": {"losses": [0.5, float("-inf")]}})

    assert (line["loss"], line["gain"]) == ("NaN", "Infinity")
    assert line["history"] == {"losses": [0.5, "-Infinity"]}


def test_json_line_turns_keys_that_are_not_text_into_text():
    class Opaque:
        def __str__(self):
            raise RuntimeError("no text")

    cycle: list = []
    cycle.append(cycle)
    _, line = _json_line(extra={"counts": {1: "a", (2, 3): "b", None: "c"}, "odd": Opaque(), "cycle": cycle})

    assert line["message"] == "step 3"
    assert line["counts"] == {"1": "a", "(2, 3)": "b", "None": "c"}
    assert line["odd"].startswith("<") and "Opaque" in line["odd"]
    assert line["cycle"] == ["<cycle>"]


def test_json_line_carries_the_stack_when_asked():
    _, line = _json_line(stack_info=True)

    assert line["stack_info"].startswith("Stack (most recent call last):")
    assert "test_json_line_carries_the_stack_when_asked" in line["stack_info"]


@pytest.mark.parametrize("kwargs, match", [
    ({"level": "LOUD"}, "SEDNA_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got 'LOUD'"),
    ({"fmt": "xml"}, "SEDNA_LOG_FORMAT must be one of text, json, got 'xml'"),
])
def test_configure_logging_rejects_bad_values(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        configure_logging(**kwargs)
    assert console_handler() is None


@pytest.mark.parametrize("env, match", [
    ({"SEDNA_LOG_LEVEL": "verbose"}, "SEDNA_LOG_LEVEL must be"),
    ({"SEDNA_LOG_FORMAT": "logfmt"}, "SEDNA_LOG_FORMAT must be one of text, json"),
    ({"SEDNA_METRICS_PORT": "70000"}, "SEDNA_METRICS_PORT must be a port number"),
    ({"SEDNA_METRICS_PORT": "http"}, "SEDNA_METRICS_PORT must be an int"),
])
def test_bad_observability_variables_are_config_errors(env, match):
    with pytest.raises(ConfigError, match=match):
        Config.from_env(env)


def test_configure_from_config_defaults_to_info_text_for_entry_points():
    assert configure_from_config(Config()) is None

    handler = configure_from_config(Config(), default=True)

    assert handler is console_handler()
    assert logging.getLogger("sedna_lib").level == logging.INFO


class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


MESSAGE = "cloud unreachable: {count} samples answered by the edge in the last {window}"


def test_rate_limiter_says_the_first_event_then_one_counted_line_per_interval(log_lines):
    logger, stream = log_lines
    clock = _Clock()
    limiter = RateLimitedLog(logger, interval=10.0, clock=clock)

    logged = [limiter.add("cloud", MESSAGE)]
    for i in range(220):
        clock.now = 100.0 + i * 0.04  # 220 samples over 8.8 s: no line
        logged.append(limiter.add("cloud", MESSAGE))
    clock.now = 110.0
    logged.append(limiter.add("cloud", MESSAGE))  # the 222nd sample, 10 s after the first line

    assert logged.count(True) == 2
    assert stream.getvalue().splitlines() == [
        "cloud unreachable: 1 samples answered by the edge in the last 0 s",
        "cloud unreachable: 221 samples answered by the edge in the last 10 s",
    ]
    assert limiter.pending("cloud") == 0
    assert limiter.emitted_ == 2


def test_rate_limiter_keeps_keys_apart_and_flush_says_what_is_left(log_lines):
    logger, stream = log_lines
    clock = _Clock()
    limiter = RateLimitedLog(logger, interval=10.0, clock=clock)
    limiter.add("a", "a x{count}")
    limiter.add("b", "b x{count}")
    limiter.add("a", "a x{count}", n=5)
    clock.now += 3

    assert limiter.pending("a") == 5
    limiter.flush()
    limiter.flush()  # nothing left: no empty line

    assert stream.getvalue().splitlines() == ["a x1", "b x1", "a x5"]


def test_rate_limiter_says_a_first_line_of_its_own_then_repeats_with_a_duration_and_plural(log_lines):
    logger, stream = log_lines
    clock = _Clock()
    limiter = RateLimitedLog(logger, interval=600.0, clock=clock, max_keys=2)
    repeats = "x failed {count} more {times} in the last {span}"
    for step in (0.0, 0.4, 0.3):
        clock.now += step
        limiter.add("x", repeats, first="x failed: {literal}")
    limiter.flush()
    limiter.add("x", repeats, first="unused: the key is kept")
    clock.now += 700
    limiter.add("x", repeats)  # past the interval: said at once
    clock.now += 12
    limiter.add("x", repeats)
    limiter.flush()

    assert stream.getvalue().splitlines() == [
        "x failed: {literal}",  # the first line is said as it is
        "x failed 2 more times in the last 0.7 s",
        "x failed 2 more times in the last 12 min",
        "x failed 1 more time in the last 12 s",
    ]
    assert len(limiter) == 1
    limiter.add("y", repeats)
    limiter.add("z", repeats)  # a third key drops the one unused longest
    assert len(limiter) == 2


def test_a_rate_limited_line_names_the_line_that_logged_it():
    # the records named logs.py (RateLimitedLog's own emit) instead of the caller
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    log = logging.getLogger("sedna_lib.test_rate_limited_site")
    log.addHandler(Keep())
    log.setLevel(logging.INFO)
    try:
        limiter = RateLimitedLog(log, interval=60.0)
        limiter.add("k", "said {count} times")
        limiter.add("k", "said {count} times")
        limiter.flush()
    finally:
        log.handlers.clear()
    assert len(records) == 2
    assert all(r.filename == "test_logs.py" for r in records), [r.filename for r in records]
