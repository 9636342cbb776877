"""Run a command so that it cannot outlive the process that asked for it.

    python -m inference_server.child_guard PARENT_PID [GRACE_S] -- COMMAND [ARG ...]

literai starts managed vLLM through this guard, in a process group of its own (so that a
clean shutdown can stop vLLM and the engine processes it forks, together). If literai
dies without that shutdown (SIGKILL, a crash, the OOM killer), the guard notices that
its parent is gone, sends SIGTERM to its whole group, and SIGKILL after GRACE_S
seconds: no orphaned vLLM keeps 4 GiB of memory, or a GPU, after literai is gone.

Linux's PR_SET_PDEATHSIG would not do: it fires when the *thread* that forked the child
exits, and literai starts engines from a loader thread that ends once they are loaded.
The guard ignores SIGTERM and SIGINT (literai signals the whole group, so the command
gets them directly, once) and exits with the command's exit code (128 + N for signal N).
Standard library only; Linux (it reads /proc).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

POLL_S = 0.5


def group_members(group: int) -> list[tuple[int, str]]:
    """Live (not zombie) processes in process group ``group``, with their command lines
    (Linux /proc). literai's ManagedVllm uses it too."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if fields[0] == "Z" or int(fields[2]) != group:
                continue
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        found.append((int(entry.name), command))
    return found


def _stop_group(child: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM to the guard's group, then SIGKILL to it (the guard included) once
    nothing else is left or after ``grace_s``."""
    os.killpg(0, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        child.poll()  # reap the command, so it does not count as alive
        if all(pid == os.getpid() for pid, _ in group_members(os.getpgid(0))):
            break
        time.sleep(0.1)
    os.killpg(0, signal.SIGKILL)


def main(argv: list[str]) -> int:
    usage = "usage: child_guard PARENT_PID [GRACE_S] -- COMMAND [ARG ...]"
    if "--" not in argv or argv.index("--") not in (1, 2) or argv.index("--") == len(argv) - 1:
        print(usage, file=sys.stderr)
        return 2
    split = argv.index("--")
    command = argv[split + 1 :]
    try:
        parent = int(argv[0])
        grace_s = float(argv[1]) if split == 2 else 20.0
    except ValueError:
        print(usage, file=sys.stderr)
        return 2
    if os.getppid() != parent:  # the parent died before the guard even started
        return 1
    child = subprocess.Popen(command)
    # Ignored only after the command started: an ignored signal stays ignored across exec.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            code = child.wait(POLL_S)
        except subprocess.TimeoutExpired:
            if os.getppid() != parent:
                print(
                    f"child_guard: parent {parent} is gone; stopping {command[0]!r}",
                    file=sys.stderr,
                    flush=True,
                )
                _stop_group(child, grace_s)
            continue
        return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
