"""What crosses between platform adapters and the core: chat lines in, replies out."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from enum import Enum

log = logging.getLogger(__name__)

# C0 and C1 control characters, DEL, and IRC's formatting codes (bold \x02, colour \x03,
# reset \x0f, reverse \x16, italic \x1d, strike \x1e, underline \x1f) and CTCP's \x01:
# everything but newline and tab. A viewer who gets "\x01ACTION waves\x01" echoed by the
# model must not make the bot send a CTCP, nor "\r\n" start a second protocol line.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """Text safe to post anywhere: control and formatting characters removed."""
    return _CONTROL.sub("", text)


@dataclass(frozen=True)
class ChannelKey:
    """A conversation's identity. Windows and queues are never shared across keys."""

    platform: str
    channel: str


@dataclass(frozen=True, slots=True)  # slots: a long history holds many of them
class ChatLine:
    platform: str
    channel: str
    user: str
    text: str
    time: float
    roles: frozenset[str] = field(default_factory=frozenset)
    # The channel whose settings (persona, pause) apply, when it is not ``channel``
    # itself: a Discord thread keeps its own window but follows its parent channel.
    scope: str | None = None
    # A private conversation (a Discord DM): it never appears anywhere public (the
    # stream overlay, public pages).
    private: bool = False
    # The bot's own line (its earlier answer, remembered for context): never source
    # material for a summary, or the bot ends up summarizing itself.
    own: bool = False
    # The platform's own event (e.g. a discord.Message), for platform commands only.
    # Never part of a line's identity; the core itself does not look at it.
    source: object = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> ChannelKey:
        """The conversation: its window, queue and channel cooldown."""
        return ChannelKey(self.platform, self.channel)

    @property
    def scope_key(self) -> ChannelKey:
        """Where settings live: the parent channel of a thread, else the channel."""
        return ChannelKey(self.platform, self.scope or self.channel)


@dataclass(frozen=True)
class Media:
    """A generated file a reply carries; each adapter posts it its own way."""

    data: bytes
    mime: str  # e.g. "audio/wav"
    ext: str  # e.g. "wav", for file names
    alt: str  # what it says or shows, for captions and screen readers
    link: str | None = None  # a web page that shows it (a podcast episode's player)

    def __post_init__(self) -> None:
        object.__setattr__(self, "alt", clean(self.alt))


class ReplyKind(Enum):
    ANSWER = "answer"  # model output
    NOTICE = "notice"  # usage lines, help, settings changed
    REFUSED = "refused"  # not now: a cooldown or a full queue (adapters may just react)
    ERROR = "error"  # the backend failed; said politely
    MEDIA = "media"  # a file to post (``Reply.media``), text is its caption


Watcher = Callable[[str, bool], None]


def _notify(watcher: Watcher, text: str, done: bool) -> bool:
    try:
        watcher(text, done)
    except Exception:
        log.exception("a reply watcher failed; dropping it")
        return False
    return True


class Reply:
    """One reply. Its text may still be streaming: iterate ``deltas()`` to show it as it
    grows, then await ``text()`` for the final (trimmed) text; or just await ``text()``."""

    def __init__(
        self, line: ChatLine, kind: ReplyKind, text: str, media: Media | None = None
    ) -> None:
        self.line = line
        self.kind = kind
        self.media = media
        self._text: str | None = clean(text)
        self._stream: AsyncIterator[str] | None = None
        self._watchers: list[Watcher] = []

    def watch(self, watcher: Watcher) -> None:
        """Also show this reply somewhere else (an overlay) as its one reader reads it:
        ``watcher(text_so_far, done)``. A finished reply is shown at once. A watcher
        that fails is dropped and logged; the reply goes on."""
        if self._stream is None:
            _notify(watcher, self._text or "", True)
        else:
            self._watchers.append(watcher)

    @classmethod
    def from_stream(cls, line: ChatLine, make: Callable[[Reply], AsyncIterator[str]]) -> Reply:
        """A reply whose producer yields deltas and calls ``finish()`` with the final text."""
        reply = cls(line, ReplyKind.ANSWER, "")
        reply._text = None
        reply._stream = make(reply)
        return reply

    @property
    def final_text(self) -> str:
        """The text of a finished reply ("" while it streams)."""
        return self._text or ""

    @property
    def streaming(self) -> bool:
        """True while text is still to come; False once it is final (or always was)."""
        return self._stream is not None

    async def deltas(self) -> AsyncIterator[str]:
        if self._stream is None:
            if self._text:
                yield self._text
            return
        stream, self._stream = self._stream, None
        so_far: list[str] = []
        try:
            async with aclosing(stream) as pieces:  # type: ignore[type-var]
                async for raw in pieces:
                    piece = clean(raw)
                    if self._watchers:
                        so_far.append(piece)
                        self._tell("".join(so_far), False)
                    yield piece
        finally:
            self._tell(self._text or "", True)
            self._watchers.clear()

    def _tell(self, text: str, done: bool) -> None:
        for watcher in list(self._watchers):
            if not _notify(watcher, text, done):
                self._watchers.remove(watcher)

    async def text(self) -> str:
        async for _ in self.deltas():
            pass
        return self._text or ""

    def finish(self, text: str, kind: ReplyKind | None = None, media: Media | None = None) -> None:
        """Called by the producer with the final text (and a kind or media, if any)."""
        self._text = clean(text)
        if kind is not None:
            self.kind = kind
        if media is not None:
            self.media = media
