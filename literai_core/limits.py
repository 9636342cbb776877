"""Cooldowns and per-channel queues. Time is always passed in; nothing here sleeps."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable


class Cooldown:
    """At most one use per ``seconds`` per key.

    ``hit(key, now)`` returns None when the use is allowed (and starts the cooldown), or
    the seconds left. ``should_notify`` is True once per cooldown period, so a user who
    keeps trying gets one short notice, not silence and not spam.
    """

    def __init__(self, seconds: float, max_keys: int = 100_000) -> None:
        self.seconds = seconds
        self.max_keys = max_keys
        self._until: OrderedDict[Hashable, float] = OrderedDict()
        self._notified: dict[Hashable, float] = {}

    def retry_after(self, key: Hashable, now: float) -> float | None:
        until = self._until.get(key)
        if until is None or now >= until:
            return None
        return until - now

    def hit(self, key: Hashable, now: float) -> float | None:
        left = self.retry_after(key, now)
        if left is not None:
            return left
        self._until[key] = now + self.seconds
        self._until.move_to_end(key)
        self._notified.pop(key, None)
        while len(self._until) > self.max_keys:
            old, _ = self._until.popitem(last=False)
            self._notified.pop(old, None)
        return None

    def should_notify(self, key: Hashable, now: float) -> bool:
        until = self._until.get(key, now)
        if self._notified.get(key) == until:
            return False
        self._notified[key] = until
        return True


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
