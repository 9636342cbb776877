"""Runs a blocking backend on worker threads, behind a bounded FIFO queue: one thread
for a backend that runs one generation at a time, ``backend.max_parallel`` for one that
batches (its ``generate`` is then called from that many threads at once).

The event loop never waits on the model: deltas cross from the worker thread through a
small handoff that wakes the loop only when it waits. Leaving the ``generation`` context for any
reason (finished, client gone, error) cancels the run and frees the engine for the next.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from .backends.base import CancelToken, ChatMessage, Delta, SamplingParams, TextBackend
from .handoff import END, Handoff

log = logging.getLogger(__name__)


class QueueFull(Exception):
    """More requests are waiting than the configured queue allows."""


class Slots:
    """At most ``concurrent`` jobs at once and ``max_queue`` waiting; past that, QueueFull.

    A job holds its slot until ``release()``, which callers make when the worker thread
    is really done (not when the request left), so a slot never admits one job too many.
    """

    def __init__(
        self,
        concurrent: int,
        max_queue: int,
        what: str,
        on_depth: Callable[[int], None] = lambda depth: None,
    ) -> None:
        self.concurrent = concurrent
        self.max_queue = max_queue
        self._what = what
        self._on_depth = on_depth
        self._free = asyncio.Semaphore(concurrent)  # wakes waiters in order
        self._waiting = 0
        self._running = 0

    async def acquire(self) -> None:
        if self._waiting + self._running >= self.concurrent + self.max_queue:
            raise QueueFull(f"{self._waiting} {self._what} are already waiting")
        self._set_waiting(+1)
        try:
            await self._free.acquire()
        finally:
            self._set_waiting(-1)
        self._running += 1

    def release(self) -> None:
        self._running -= 1
        self._free.release()

    def _set_waiting(self, change: int) -> None:
        self._waiting += change
        self._on_depth(self._waiting)


class NotReady(Exception):
    """The model is still loading (or failed to load)."""


class Engine:
    def __init__(
        self,
        backend: TextBackend,
        *,
        max_queue: int,
        on_depth: Callable[[int], None] = lambda depth: None,
    ) -> None:
        self.backend = backend
        self.ready = False
        self.load_error: str | None = None
        self.generated_tokens = 0  # total, for metrics and cancel tests
        parallel = max(1, backend.max_parallel)
        self.parallel = parallel
        self.capacity = parallel + max_queue  # requests it takes before it says it is busy
        self._executor = ThreadPoolExecutor(parallel, thread_name_prefix=f"engine-{backend.name}")
        self._slots = Slots(parallel, max_queue, "requests", on_depth)

    async def load(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self.backend.load)
        self.ready = True

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self.backend.close)
        self._executor.shutdown(wait=True)

    @asynccontextmanager
    async def generation(
        self, prompt: str | list[ChatMessage], params: SamplingParams
    ) -> AsyncIterator[AsyncIterator[Delta]]:
        if not self.ready:
            raise NotReady(self.load_error or "the model is still loading")
        await self._slots.acquire()
        cancel = CancelToken()
        loop = asyncio.get_running_loop()
        handoff = Handoff(loop)
        future = loop.run_in_executor(
            self._executor, handoff.pump, self._counted(prompt, params, cancel), cancel
        )
        # The engine is free again when the worker thread is done, however this
        # request ends (even if its task is cancelled twice on the way out).
        future.add_done_callback(self._finished)
        try:
            yield self._drain(handoff)
        finally:
            cancel.cancel()

    def _finished(self, future: asyncio.Future[None]) -> None:
        if not future.cancelled():
            future.exception()  # retrieved: errors already went to the consumer
        self._slots.release()

    def _counted(
        self, prompt: str | list[ChatMessage], params: SamplingParams, cancel: CancelToken
    ) -> Iterator[Delta]:
        """The backend's deltas, counting generated tokens as they pass (worker thread)."""
        last = 0
        for delta in self.backend.generate(prompt, params, cancel):
            self.generated_tokens += delta.completion_tokens - last
            last = delta.completion_tokens
            yield delta

    @staticmethod
    async def _drain(handoff: Handoff) -> AsyncIterator[Delta]:
        while True:
            merged: Delta | None = None
            for item in await handoff.take_all():
                if isinstance(item, Delta):
                    # Coalesce what piled up: a slow reader costs one write, not many.
                    merged = item if merged is None else merged.then(item)
                    continue
                if merged is not None:
                    yield merged
                    merged = None
                if item is END:
                    return
                raise item
            if merged is not None:
                yield merged
