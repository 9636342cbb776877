"""Chat platforms limit actions per channel per window: Discord counts sends and edits
against 5 per 5 s, Twitch messages against 20 (100 as moderator) per 30 s. The pacer
keeps each channel under its limit. An action is counted from when it is started until a
window after its response came back, so network delay can never squeeze one more action into
the platform's own window. The clock and the sleep are parameters: tests need not wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager


class Pacer:
    def __init__(
        self,
        actions: int = 5,
        per_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        *,
        spread: bool = False,
    ) -> None:
        self.actions = actions
        self.per_s = per_s
        self.spread = spread
        self._clock = clock
        self._sleep = sleep
        self._marks: list[list[float]] = []  # [time]; in flight: the start, then the end
        self._lock = asyncio.Lock()

    def idle(self, now: float) -> bool:
        """Nothing in flight and nothing counted in the window: forgetting it changes
        nothing."""
        return not self._lock.locked() and self.wait_s(now) == 0 and not self._marks

    def wait_s(self, now: float) -> float:
        """Seconds until one more action fits."""
        self._marks = [m for m in self._marks if now - m[0] < self.per_s]
        apart = 0.0
        if self.spread and len(self._marks) >= max(1, self.actions // 2):
            apart = max(m[0] for m in self._marks) + self.per_s / self.actions - now
        if len(self._marks) < self.actions:
            return max(0.0, apart)
        return max(min(m[0] for m in self._marks) + self.per_s - now, apart)

    def busy(self) -> bool:
        """Whether an action now would have to wait (the window is full, or one waits)."""
        return self._lock.locked() or self.wait_s(self._clock()) > 0

    @asynccontextmanager
    async def _held(self, mark: list[float]) -> AsyncIterator[None]:
        try:
            yield
        finally:
            mark[0] = self._clock()  # count from when the response came back

    def try_slot(self) -> AbstractAsyncContextManager[None] | None:
        """A slot now, or None if the channel is at its limit (optional edits)."""
        now = self._clock()
        if self._lock.locked() or self.wait_s(now) > 0:
            return None
        mark = [now]
        self._marks.append(mark)
        return self._held(mark)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a slot (sends and final edits must happen), then act inside it."""
        async with self._lock:
            while (delay := self.wait_s(self._clock())) > 0:
                await self._sleep(delay)
            mark = [self._clock()]
            self._marks.append(mark)
        async with self._held(mark):
            yield
