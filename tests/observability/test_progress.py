"""Progress: a tqdm bar on a real terminal (a pty), one log line per step otherwise."""

from __future__ import annotations

import io
import os

from sedna_lib.observability.progress import progress


def test_without_a_terminal_each_step_is_one_log_line(log_lines, capsys):
    logger, stream = log_lines

    with progress(3, "round", logger=logger) as report:  # stderr is captured: not a terminal
        report.step(accuracy=0.5, loss=1.25)
        report.note("kept the old model: %s < min_delta %s", "+0.0018", 0.01)
        report.step(accuracy=0.75)
        report.step()

    assert not report.is_bar
    assert capsys.readouterr().err == ""
    assert stream.getvalue().splitlines() == [
        "round 1/3 accuracy=0.5 loss=1.25",
        "kept the old model: +0.0018 < min_delta 0.01",
        "round 2/3 accuracy=0.75",
        "round 3/3",
    ]


def test_a_file_the_caller_chose_gets_the_lines(log_lines):
    logger, stream = log_lines
    chosen = io.StringIO()

    with progress(2, "task", logger=logger, stream=chosen) as report:
        report.step(task="cold", samples=40)
        report.note("task %s: trained", "cold")

    assert chosen.getvalue().splitlines() == ["task 1/2 task=cold samples=40", "task cold: trained"]
    assert stream.getvalue() == ""


def test_on_a_terminal_a_bar_is_drawn_with_the_steps_results(log_lines):
    logger, stream = log_lines
    master, slave = os.openpty()
    terminal = os.fdopen(slave, "w")
    try:
        with progress(2, "round", logger=logger, stream=terminal) as report:
            report.step(accuracy=0.5)
            report.note("kept the old model")
            report.step(accuracy=0.875)
        terminal.flush()
        drawn = _read_until(master, "accuracy=0.875")
    finally:
        terminal.close()
        os.close(master)

    assert report.is_bar
    assert stream.getvalue() == ""  # no log lines while a bar is drawn
    assert "round: 100%" in drawn and "2/2" in drawn and "accuracy=0.875" in drawn
    assert "kept the old model" in drawn


def _read_until(fd: int, needle: str, timeout: float = 10.0) -> str:
    """Read a pseudo-terminal until ``needle`` arrives (the kernel hands pty output over in pieces)."""
    import select

    seen = b""
    while needle.encode() not in seen:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            break
        seen += os.read(fd, 65536)
    return seen.decode(errors="replace")


def test_unknown_total_counts_up(log_lines):
    logger, stream = log_lines

    with progress(None, "task", logger=logger, bar=False) as report:
        report.step(n=2, samples=10)

    assert stream.getvalue().strip() == "task 2 samples=10"
