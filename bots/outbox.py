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
        self._combined: tuple[str, T] | None = None  # the waiting message parts may join
        self._holding: tuple[str, T] | None = None  # taken from the queue, waiting its turn
        self._notices: set[int] = set()  # ids of the notices waiting

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

    def busy(self) -> bool:
        """An answer now would wait: the channel is at its rate, or answers are queued."""
        return self.pacer.busy() or any(id(m) not in self._notices for m in self._pending())

    def combine(self, part: str, extra: T, limit: int, sep: str = " · ") -> bool:
        """Queue ``part`` (an answer that names its asker) joined onto the combined
        message still waiting (last in the queue, or next to go out once the rate
        allows) if the two fit in ``limit``; else as a new combined message that later
        parts may join. False if there is no room."""
        pending = self._queue._queue  # type: ignore[attr-defined]  # the queue's deque
        joined = self._combined
        if joined is not None:
            text, first = joined
            if len(text) + len(sep) + len(part) <= limit:
                grown = (text + sep + part, first)
                if pending and pending[-1] is joined:
                    pending[-1] = self._combined = grown
                    return True
                if not pending and self._holding is joined:
                    self._holding = self._combined = grown
                    return True
        if not self.room():
            return False
        self._combined = (part, extra)
        self._queue.put_nowait(self._combined)
        return True

    def notify(self, text: str, extra: T) -> bool:
        """Queue a one-line notice: in the reserve if need be, and only once while the
        same text waits (forty refusals are one). False if even the reserve is full."""
        if any(waiting == text for waiting, _ in self._pending()):
            return True  # said already, soon
        if self._queue.full():
            return False
        notice = (text, extra)
        self._notices.add(id(notice))
        self._queue.put_nowait(notice)
        return True

    def _pending(self) -> list[tuple[str, T]]:
        return list(self._queue._queue)  # type: ignore[attr-defined]  # a deque: read only

    async def _run(self) -> None:
        while True:
            self._holding = await self._queue.get()
            try:
                async with self.pacer.slot():
                    assert self._holding is not None
                    text, extra = self._holding  # a combined message may have grown
                    self._notices.discard(id(self._holding))
                    self._holding = None
                    await self._send(text, extra)
                self.sent += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one failed send must not stop the channel
                log.warning("%s: could not send: %s", self.name, exc)
