"""Cooldowns and per-channel queues. Time is always passed in; nothing here sleeps."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from typing import TypeVar

V = TypeVar("V")
K = TypeVar("K", bound=Hashable)


class Cooldown:
    """At most one use per ``seconds`` per key.

    ``hit(key, now)`` returns None when the use is allowed (and starts the cooldown), or
    the seconds left. At most ``max_keys`` keys are remembered (oldest dropped first).
    """

    def __init__(self, seconds: float, max_keys: int = 100_000) -> None:
        self.seconds = seconds
        self.max_keys = max_keys
        self._until: OrderedDict[Hashable, float] = OrderedDict()

    def retry_after(self, key: Hashable, now: float) -> float | None:
        until = self._until.get(key)
        if until is None or now >= until:
            return None
        return until - now

    def hit(self, key: Hashable, now: float) -> float | None:
        left = self.retry_after(key, now)
        if left is not None:
            return left
        _remember(self._until, key, now + self.seconds, now, self.max_keys)
        return None


class RateLimit:
    """At most ``limit`` uses per ``window_s`` per key (a sliding window). ``hit(key,
    now)`` returns None when the use is allowed (and counts it), or the seconds until
    one more fits. At most ``max_keys`` keys are remembered (least recent dropped)."""

    def __init__(self, limit: int, window_s: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._uses: OrderedDict[Hashable, deque[float]] = OrderedDict()

    def hit(self, key: Hashable, now: float) -> float | None:
        uses = self._uses.get(key)
        if uses is None:
            uses = self._uses[key] = deque()
            while len(self._uses) > self.max_keys:
                self._uses.popitem(last=False)
        self._uses.move_to_end(key)
        # Keys whose uses have all left the window are as good as new: drop them from
        # the least recent end, so the table holds the users of the last window, not
        # every viewer of a long stream (a soak measured it growing by ~1 KiB a command).
        _drop_stale(self._uses, key, lambda used: not used or now - used[-1] >= self.window_s)
        while uses and now - uses[0] >= self.window_s:
            uses.popleft()
        if len(uses) >= self.limit:
            return uses[0] + self.window_s - now
        uses.append(now)
        return None


class Notices:
    """One notice per key until a quiet period passes, so a user who keeps trying gets
    one short answer, not silence and not spam."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._quiet_until: OrderedDict[Hashable, float] = OrderedDict()

    def allow(self, key: Hashable, now: float, quiet_s: float) -> bool:
        until = self._quiet_until.get(key)
        if until is not None and now < until:
            return False
        _remember(self._quiet_until, key, now + quiet_s, now, self.max_keys)
        return True


def _remember(
    table: OrderedDict[Hashable, float], key: Hashable, until: float, now: float, max_keys: int
) -> None:
    """Set ``key`` until ``until`` (newest last); drop the least recent keys whose time
    is over, which are as good as absent, and any beyond ``max_keys``."""
    table[key] = until
    table.move_to_end(key)
    while len(table) > max_keys:
        table.popitem(last=False)
    _drop_stale(table, key, lambda old_until: old_until <= now)


def _drop_stale(table: OrderedDict[Hashable, V], key: Hashable, stale: Callable[[V], bool]) -> None:
    """Drop the least recent entries while they are ``stale`` (never ``key``, the one
    just used): they are as good as absent."""
    while len(table) > 1:
        old, value = next(iter(table.items()))
        if old == key or not stale(value):
            break
        table.popitem(last=False)


class ChannelQueues:
    """Bounds how many commands a channel may have pending at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._pending: dict[Hashable, int] = {}

    def try_enter(self, key: Hashable) -> bool:
        n = self._pending.get(key, 0)
        if n >= self.limit:
            return False
        self._pending[key] = n + 1
        return True

    def leave(self, key: Hashable) -> None:
        n = self._pending.get(key, 0) - 1
        if n <= 0:
            self._pending.pop(key, None)
        else:
            self._pending[key] = n

    def pending(self, key: Hashable) -> int:
        return self._pending.get(key, 0)


def set_bounded(table: OrderedDict[K, V], key: K, value: V | None, most: int) -> None:
    """A moderator's per-channel choice: set newest (or cleared with None), the least
    recently set dropped beyond ``most`` channels."""
    table.pop(key, None)
    if value is not None:
        table[key] = value
        while len(table) > most:
            table.popitem(last=False)


class Slot:
    """One entry in a channel queue, released exactly once."""

    def __init__(self, queues: ChannelQueues, key: Hashable) -> None:
        self._queues = queues
        self._key = key
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._queues.leave(self._key)
