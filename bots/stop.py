"""Why the process is ending, and running work until then."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable


class Stop:
    """Why the process is ending: a signal, end of input, or a fatal error."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.code = 0

    def on_signal(self) -> None:
        """First Ctrl-C or SIGTERM: stop cleanly. A second one: leave at once."""
        if self.event.is_set():
            print("literai: stopping now", file=sys.stderr, flush=True)
            os._exit(130)
        self.set()

    def set(self, code: int = 0, message: str | None = None) -> None:
        if message:
            print(f"literai: {message}", file=sys.stderr, flush=True)
        if not self.event.is_set():
            self.code = code
        self.event.set()

    def on_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, self.on_signal)

    @classmethod
    def installed(cls) -> Stop:
        """A Stop that Ctrl-C and SIGTERM set (call inside the running loop)."""
        stop = cls()
        stop.on_signals()
        return stop


async def until(stop: Stop, work: Awaitable[object]) -> None:
    """Run ``work`` until it ends or ``stop`` fires, whichever comes first."""
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(stop.event.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (task, waiter):
            t.cancel()
        await asyncio.gather(task, waiter, return_exceptions=True)
    if task.done() and not task.cancelled():
        # gather() reports a child cancelled during shutdown as a CancelledError
        # exception rather than as cancelled: that is a stop, not a failure.
        exc = task.exception()
        if exc is not None and not isinstance(exc, asyncio.CancelledError):
            raise exc
