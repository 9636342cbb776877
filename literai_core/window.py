"""Rolling chat windows: the last N lines per channel, bounded in size and count."""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import replace

from .chat import ChannelKey, ChatLine


class RollingWindows:
    """Per-channel windows of recent lines.

    Each window holds at most ``max_lines`` lines and ``max_chars`` characters (oldest
    dropped first); at most ``max_channels`` windows are kept (least recently used
    dropped), so memory stays bounded however long the bot runs.
    """

    def __init__(self, max_lines: int = 5, max_chars: int = 2000, max_channels: int = 1000):
        self.max_lines = max_lines
        self.max_chars = max_chars
        self.max_channels = max_channels
        self._windows: OrderedDict[ChannelKey, deque[ChatLine]] = OrderedDict()

    def add(self, line: ChatLine) -> None:
        window = self._windows.get(line.key)
        if window is None:
            window = self._windows[line.key] = deque()
            while len(self._windows) > self.max_channels:
                self._windows.popitem(last=False)
        else:
            self._windows.move_to_end(line.key)
        # One long line may fill the window, never empty it: leave room for "user: ".
        # The platform's event (``source``: a whole message payload) is not kept: a
        # window holds text, and a week of history must not hold a week of payloads.
        text = line.text[: max(1, self.max_chars - len(line.user) - 2)]
        if text != line.text or line.source is not None:
            line = replace(line, text=text, source=None)
        window.append(line)
        while len(window) > self.max_lines or _chars(window) > self.max_chars:
            window.popleft()

    def lines(self, key: ChannelKey) -> list[ChatLine]:
        return list(self._windows.get(key, ()))

    def clear(self, key: ChannelKey) -> None:
        self._windows.pop(key, None)

    def __len__(self) -> int:
        return len(self._windows)


def _chars(window: deque[ChatLine]) -> int:
    return sum(len(line.user) + len(line.text) + 2 for line in window)
