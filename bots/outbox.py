"""A channel's outgoing messages for text-only chats (Twitch, IRC): a bounded queue, one
sender task, and a pacer that keeps the platform's rate limit. A reply that does not fit
is refused as a whole (the caller says so in chat); it is never cut off or dropped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from .pacing import Pacer

log = logging.getLogger(__name__)

T = TypeVar("T")  # what each message carries besides its text (e.g. the id it answers)


class Outbox(Generic[T]):
    """``size`` messages may wait for replies; ``reserve`` more places are kept for
    notices (a refusal, "chat is busy"), so a refusal always gets out, even when
    replies have filled the queue; a notice already waiting is not queued twice."""

    def __init__(
        self,
        name: str,
        send: Callable[[str, T], Awaitable[None]],
        pacer: Pacer,
        size: int,
        reserve: int = 2,
    ) -> None:
        self.name = name
        self.pacer = pacer
        self.sent = 0
        self.reserve = reserve
        self._send = send
        self._queue: asyncio.Queue[tuple[str, T]] = asyncio.Queue(size + reserve)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"outbox {self.name}")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def room(self) -> int:
        """Places left for replies (the notices' reserve not counted)."""
        return max(0, self._queue.maxsize - self.reserve - self._queue.qsize())

    def offer(self, messages: list[tuple[str, T]]) -> bool:
        """Queue all of ``messages`` or none of them."""
        if len(messages) > self.room():
            return False
        for message in messages:
            self._queue.put_nowait(message)
        return True

    def notify(self, text: str, extra: T) -> bool:
        """Queue a one-line notice: in the reserve if need be, and only once while the
        same text waits (forty refusals are one). False if even the reserve is full."""
        if any(waiting == text for waiting, _ in self._pending()):
            return True  # said already, soon
        if self._queue.full():
            return False
        self._queue.put_nowait((text, extra))
        return True

    def _pending(self) -> list[tuple[str, T]]:
        return list(self._queue._queue)  # type: ignore[attr-defined]  # a deque: read only

    async def _run(self) -> None:
        while True:
            text, extra = await self._queue.get()
            try:
                async with self.pacer.slot():
                    await self._send(text, extra)
                self.sent += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one failed send must not stop the channel
                log.warning("%s: could not send: %s", self.name, exc)
