"""inference_server/child_guard.py with real processes: what it runs stops when the
process that started it is SIGKILLed, and lives on (with its exit code passed back)
while that process lives. Managed vLLM runs through it (tests/test_vllm_engine.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from .kit.server import ROOT

pytestmark = pytest.mark.slow  # real processes, killed and waited for


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _parent_script(tmp: Path, command: list[str]) -> str:
    """A parent that starts the guard as ManagedVllm does (own session), writes the
    pids, then sleeps until killed."""
    return textwrap.dedent(f"""
        import os, subprocess, sys, time
        guard = subprocess.Popen(
            [sys.executable, "-m", "inference_server.child_guard", str(os.getpid()), "5",
             "--", *{command!r}],
            start_new_session=True, cwd={str(ROOT)!r},
        )
        open({str(tmp / "guard.pid")!r}, "w").write(str(guard.pid))
        time.sleep(600)
    """)


def test_the_command_stops_when_its_parent_is_killed(tmp_path: Path) -> None:
    # The command: a shell that ignores SIGTERM (as a hung server might) and has a
    # child of its own in the group (as vLLM's engine core is).
    command = ["sh", "-c", f"trap '' TERM; sleep 600 & echo $! > {tmp_path}/grandchild.pid; wait"]
    parent = subprocess.Popen([sys.executable, "-c", _parent_script(tmp_path, command)])
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "grandchild.pid").is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        guard = int((tmp_path / "guard.pid").read_text())
        grandchild = int((tmp_path / "grandchild.pid").read_text())
        time.sleep(1.5)  # a few of the guard's polls: the parent is alive, nothing happens
        assert _alive(guard) and _alive(grandchild)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
    deadline = time.monotonic() + 20  # a poll (0.5 s) + SIGTERM ignored + 5 s grace
    while (_alive(guard) or _alive(grandchild)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(grandchild), "the command's own child outlived the parent"
    assert not _alive(guard)


def test_exit_codes_pass_through_and_bad_usage_is_one_line() -> None:
    guard = [sys.executable, "-m", "inference_server.child_guard", str(os.getpid())]
    done = subprocess.run([*guard, "--", "sh", "-c", "exit 3"], cwd=ROOT, timeout=30)
    assert done.returncode == 3
    killed = subprocess.run([*guard, "--", "sh", "-c", "kill -TERM $$"], cwd=ROOT, timeout=30)
    assert killed.returncode == 128 + signal.SIGTERM
    bad = subprocess.run([*guard, "sh"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "usage: child_guard PARENT_PID [GRACE_S] -- COMMAND [ARG ...]"
