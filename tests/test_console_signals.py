"""Ctrl-C and SIGTERM stop ``literai run`` cleanly with a terminal as stdin, the way a
person runs it (a pipe hides the bug: Python aborted at exit, code 134, when the stdin
reader thread held the buffered reader's lock)."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
from pathlib import Path

import pytest

from .kit.server import LITERAI, ROOT, write_config

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_stops_the_console_bot_cleanly_on_a_terminal(
    tmp_path: Path, sig: signal.Signals
) -> None:
    config = write_config(tmp_path)
    terminal, its_end = pty.openpty()
    proc = subprocess.Popen(
        [*LITERAI, "run", "--config", str(config)],
        cwd=ROOT,
        stdin=its_end,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(its_end)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("literai is ready")
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        os.close(terminal)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Fatal Python error" not in err and "Traceback" not in err
