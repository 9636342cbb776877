"""Time as a parameter: clocks and sleeps that tests drive, so nothing waits for real
time to pass. Pass ``clock=fake, sleep=fake.sleep`` to the code under test."""

from __future__ import annotations

import asyncio


class FakeClock:
    """Time that passes only when the test says so. ``fake()`` is now; ``fake.sleep(s)``
    returns once ``advance`` has moved now to its end (like ``asyncio.sleep`` on a
    clock that stands still in between). With ``jump``, a sleep moves now on by its
    length at once instead: nothing waits, yet the time slept still adds up."""

    def __init__(self, now: float = 1000.0, *, jump: bool = False) -> None:
        self.now = now
        self.jump = jump
        self.asked: list[float] = []  # every sleep's length, in order
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)
        if seconds <= 0 or self.jump:
            self.advance(max(0.0, seconds))
            await asyncio.sleep(0)
            return
        future = asyncio.get_running_loop().create_future()
        entry = (self.now + seconds, future)
        self._sleepers.append(entry)
        try:
            await future
        finally:
            if entry in self._sleepers:  # cancelled while asleep
                self._sleepers.remove(entry)

    @property
    def sleeping(self) -> list[float]:
        """When each pending sleep ends, soonest first (empty: nobody waits on time)."""
        return sorted(wake for wake, future in self._sleepers if not future.done())

    def advance_to(self, when: float) -> None:
        """Move now to ``when`` (never back) and wake every sleep that ends by then."""
        self.now = max(self.now, when)
        for entry in list(self._sleepers):
            wake, future = entry
            if wake <= self.now:
                self._sleepers.remove(entry)
                if not future.done():
                    future.set_result(None)

    def advance(self, seconds: float) -> None:
        self.advance_to(self.now + seconds)


class ManualSleep:
    """A ``sleep`` for timed loops that returns only when the test says: ``tick()`` ends
    one sleep and waits until the loop has done its round and sleeps again."""

    def __init__(self) -> None:
        self.sleepers: asyncio.Queue[asyncio.Future[None]] = asyncio.Queue()
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        future = asyncio.get_running_loop().create_future()
        self.sleepers.put_nowait(future)
        await future

    async def tick(self) -> None:
        (await self.sleepers.get()).set_result(None)
        again = await self.sleepers.get()  # the round is over: it sleeps again
        self.sleepers.put_nowait(again)
