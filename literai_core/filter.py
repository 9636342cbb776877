"""The content filter: one stage every command's text passes before it reaches the model
and every answer passes before anyone sees or hears it.

The block list is better-profanity's word list (916 entries, MIT; read from the
package's data file). Its matcher is not used: it compares every word with every entry
(slow on every streamed sentence) and misses spaced-out letters ("f u c k"). Here the
list becomes one regular expression: each letter also matches its leetspeak stand-ins
(``a`` as ``@``/``4``, ``s`` as ``$``/``5``, ...) and may be followed by one separator
(space, dot, dash, underscore, asterisk), and a match must start and end at a word
boundary (an underscore is one: logins join words with it), so "glass" and
"analysis" pass. Per channel, moderators add words and allow
words (``!filter``); the config adds and allows words everywhere. ``classify`` is a
hook for a model-based classifier (a callable that says whether a text is unsafe).

What a hit does is ``bot.filter.action``: ``mask`` (the word becomes asterisks), ``drop``
(the sentence goes), ``replace`` (the whole answer becomes ``bot.filter.safe_line``).
"""

from __future__ import annotations

import importlib.resources
import json
import logging
import os
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .chat import ChannelKey
from .settings import FilterSettings

log = logging.getLogger(__name__)
Action = Literal["mask", "drop", "replace"]
_LEET = {
    "a": "a@4*", "b": "b8", "e": "e3*", "g": "g9", "i": "i1!l*", "l": "l1",
    "o": "o0@*", "s": "s$5", "t": "t7+", "u": "uv*", "v": "vu",
}  # fmt: skip
_SEP = r"[\s.\-_*]?"
_SENTENCE = re.compile(r"(?<=[.!?…])\s+")
MAX_WORDS = 200  # per channel, each way
# Entries of the list that are everyday chat words (games, food and drink, health,
# identity, mild exclamations): blocking them would mask "pawn" on a chess stream or
# "gay" in a pride month chat. Slurs and sexual terms stay blocked. ``allowed_words``
# in the config adds to these; a moderator's ``!filter add`` blocks one in a channel.
EVERYDAY = frozenset(
    "god hell kill drunk dummy fat lmao lmfao omg organ ovary ovum ovums pawn pot rum "
    "strip suck ugly urine vodka weed womb xx revue len pee poop racy hemp maxi massa "
    "teste toots whiz uzi thug screw jerk moron crap damn erect loin loins lust lusty "
    "naked nude opium oral prude punky queer gay gays hiv meth slave scum snuff tramp "
    "junky hooch hump knob leper nappy paddy pasty pinko prig reich souse teat tush "
    "unwed vomit wad wazoo yury herp herpy toke pcp fubar".split()
)


def packaged_words() -> list[str]:
    """better-profanity's list, one entry per line."""
    data = importlib.resources.files("better_profanity") / "profanity_wordlist.txt"
    return [w.strip().lower() for w in data.read_text("utf-8").splitlines() if w.strip()]


def _letter(char: str) -> str:
    variants = _LEET.get(char, char)
    if len(variants) == 1:
        return re.escape(char)
    return "[" + "".join(re.escape(c) for c in variants) + "]"


def compile_words(words: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern matching any of ``words`` (spaces inside an entry match any separator)."""
    alternatives = []
    for word in sorted({w.lower().strip() for w in words if w.strip()}, key=len, reverse=True):
        letters = [c for c in word if not c.isspace()]
        alternatives.append(_SEP.join(_letter(c) for c in letters))
    if not alternatives:
        return None
    # Letters and digits, not underscores, join words: "shit_lord", a login, has one.
    return re.compile(r"(?<![^\W_]|[@$])(?:" + "|".join(alternatives) + r")(?![^\W_])", re.I)


def _canonical(text: str) -> str:
    return re.sub(r"[\s.\-_*]", "", text.lower())


@dataclass
class ChannelWords:
    blocked: set[str] = field(default_factory=set)
    allowed: set[str] = field(default_factory=set)
    pattern: re.Pattern[str] | None = None


class ContentFilter:
    """The filter, its per-channel words (bounded LRU over ``max_channels``) and the count
    of blocks."""

    def __init__(
        self,
        *,
        extra: Iterable[str] = (),
        allowed: Iterable[str] = (),
        action: Action = "mask",
        safe_line: str = "Let's keep it friendly.",
        base: Iterable[str] | None = None,
        classify: Callable[[str], bool] | None = None,
        max_channels: int = 1000,
    ) -> None:
        words = list(packaged_words() if base is None else base) + list(extra)
        everyday = EVERYDAY if base is None else frozenset()
        self.allowed = {_canonical(w) for w in [*everyday, *allowed]} - {
            _canonical(w) for w in extra
        }
        self.pattern = compile_words(words)
        # Longer than any match: a letter and a separator per letter of the longest word.
        self.hold = 2 * max((len(w) for w in words), default=1) + 2
        self.action: Action = action
        self.safe_line = safe_line
        self.classify = classify
        self.channels: OrderedDict[object, ChannelWords] = OrderedDict()
        self.max_channels = max_channels
        self.blocks = 0  # answers changed and commands refused (the core counts them)
        self.store: Path | None = None  # where the channels' words are kept (load)

    # -- moderators ------------------------------------------------------------------

    def words(self, channel: object) -> ChannelWords:
        found = self.channels.get(channel)
        if found is None:
            found = self.channels[channel] = ChannelWords()
            while len(self.channels) > self.max_channels:
                self.channels.popitem(last=False)
        self.channels.move_to_end(channel)
        return found

    def add(self, channel: object, word: str, *, allow: bool = False) -> bool:
        """Block (or allow) ``word`` in ``channel``; False when the list is full."""
        own = self.words(channel)
        target, other = (own.allowed, own.blocked) if allow else (own.blocked, own.allowed)
        word = word.lower().strip()
        if word not in target and len(target) >= MAX_WORDS:
            return False
        target.add(word)
        other.discard(word)
        own.pattern = compile_words(own.blocked)
        self.hold = max(self.hold, 2 * len(word) + 2)
        return True

    # -- kept across restarts -----------------------------------------------------------

    def load(self, path: Path) -> None:
        """Channels' words from ``path`` (written by ``save``); a missing file is none.
        Blocking file work: call it off the event loop."""
        self.store = path
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("filter: cannot read %s (%s); starting without channel words", path, exc)
            return
        for key, words in data.items() if isinstance(data, dict) else ():
            platform, _, name = key.partition(":")
            own = self.words(ChannelKey(platform, name))
            own.blocked = set(words.get("blocked", [])[:MAX_WORDS])
            own.allowed = set(words.get("allowed", [])[:MAX_WORDS])
            own.pattern = compile_words(own.blocked)
            longest = max((len(w) for w in own.blocked), default=0)
            self.hold = max(self.hold, 2 * longest + 2)

    def save(self) -> None:
        """Every channel's words to the file ``load`` read (written whole, then renamed
        into place); nothing without one. Blocking file work: call it off the loop."""
        if self.store is None:
            return
        data = {
            f"{key.platform}:{key.channel}": {
                "blocked": sorted(own.blocked), "allowed": sorted(own.allowed)
            }
            for key, own in self.channels.items()
            if isinstance(key, ChannelKey) and (own.blocked or own.allowed)
        }  # fmt: skip
        self.store.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.store.with_name(self.store.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1), "utf-8")
        os.replace(tmp, self.store)

    def remove(self, channel: object, word: str) -> bool:
        own = self.words(channel)
        word = word.lower().strip()
        found = word in own.blocked or word in own.allowed
        own.blocked.discard(word)
        own.allowed.discard(word)
        own.pattern = compile_words(own.blocked)
        return found

    # -- text ------------------------------------------------------------------------

    def hits(self, text: str, channel: object = None) -> list[tuple[int, int]]:
        """Spans of ``text`` that are blocked in ``channel``."""
        own = self.channels.get(channel) if channel is not None else None
        allowed = self.allowed | ({_canonical(w) for w in own.allowed} if own else set())
        spans = []
        for pattern in (self.pattern, own.pattern if own else None):
            if pattern is None:
                continue
            for match in pattern.finditer(text):
                if _canonical(match.group()) not in allowed:
                    spans.append(match.span())
        return sorted(spans)

    def blocked(self, text: str, channel: object = None) -> bool:
        """Whether ``text`` may not reach the model (a command's arguments)."""
        return bool(self.hits(text, channel)) or (
            self.classify is not None and bool(text) and self.classify(text)
        )

    def screen(self, text: str, channel: object = None) -> str:
        """``text`` as it may be shown: unchanged, masked, without the sentences that
        had a hit, or the safe line, by the action."""
        spans = self.hits(text, channel)
        if not spans and not (self.classify is not None and text and self.classify(text)):
            return text
        if self.action == "replace" or not spans:
            return self.safe_line
        if self.action == "mask":
            out, at = [], 0
            for start, end in spans:
                if start >= at:
                    out += [text[at:start], "*" * (end - start)]
                    at = end
            return "".join(out) + text[at:]
        kept = [s for s in _SENTENCE.split(text) if not self.hits(s, channel)]
        return " ".join(kept) if kept else self.safe_line


class Screen:
    """A streamed answer screened as it grows: ``feed`` returns what may be shown now,
    ``end`` the rest. Masking keeps lengths, so all but the last ``hold`` characters
    (longer than any match) can be shown, masked, at once: a word still being written
    is never shown before it is known. Dropping works a whole sentence at a time;
    replacing shows the safe line once at the first hit, then nothing."""

    def __init__(self, filt: ContentFilter, channel: object) -> None:
        self.filter, self.channel = filt, channel
        self.raw, self.done = "", 0  # all text so far; how much of it is shown
        self.replaced = False

    def feed(self, piece: str) -> str:
        self.raw += piece
        if self.filter.action == "drop":
            cut = None
            for match in _SENTENCE.finditer(self.raw, self.done):
                cut = match.end()
            return self._sentences(cut) if cut is not None else ""
        # No match spans a sentence end and its space (two characters; a match allows
        # one between letters): up to the last one, everything is known.
        ends = [m.end() for m in _SENTENCE.finditer(self.raw, self.done)]
        return self._upto(max(len(self.raw) - self.filter.hold, ends[-1] if ends else 0))

    def end(self) -> str:
        if self.filter.action == "drop":
            return self._sentences(len(self.raw)) if self.done < len(self.raw) else ""
        return self._upto(len(self.raw))

    def _sentences(self, cut: int) -> str:
        ready, self.done = self.raw[self.done : cut], cut
        body = ready.rstrip()
        if not body or self.filter.hits(body, self.channel):
            return ""  # a dropped sentence goes without a trace (the final text says more)
        return ready

    def _upto(self, limit: int) -> str:
        if self.replaced or limit <= self.done:
            return ""
        spans = self.filter.hits(self.raw, self.channel)
        if spans and self.filter.action == "replace":
            self.replaced = True
            return (" " if self.done else "") + self.filter.safe_line
        masked = list(self.raw)
        for start, end in spans:
            masked[start:end] = "*" * (end - start)
        shown, self.done = "".join(masked[self.done : limit]), limit
        return shown


def build_filter(
    settings: FilterSettings, max_channels: int, keep: ContentFilter | None = None
) -> ContentFilter | None:
    """The filter from config (None when off); ``keep``'s per-channel words carry over
    (``!reload``)."""
    if not settings.enabled:
        return None
    made = ContentFilter(
        extra=settings.extra_words,
        allowed=settings.allowed_words,
        action=settings.action,
        safe_line=settings.safe_line,
        max_channels=max_channels,
    )
    if keep is not None:
        made.channels, made.blocks, made.store = keep.channels, keep.blocks, keep.store
        made.hold = max(made.hold, keep.hold)
    return made


def final(filt: ContentFilter, text: str, channel: object) -> str:
    """An answer's final text, screened; a change is counted and logged (never the words)."""
    shown = filt.screen(text, channel)
    if shown != text:
        filt.blocks += 1
        log.info("filter: an answer in %s had blocked words (%s)", channel, filt.action)
    return shown


def refused(filt: ContentFilter, text: str, channel: object) -> bool:
    """Whether a command's text may not reach the model; counted and logged."""
    if not filt.blocked(text, channel):
        return False
    filt.blocks += 1
    log.info("filter: refused a command with blocked words in %s", channel)
    return True


async def screened(
    pieces: AsyncIterator[str], filt: ContentFilter | None, channel: object
) -> AsyncIterator[str]:
    """A streamed answer as it may be shown: whole sentences, screened, so a blocked
    word never appears even for a moment (unchanged without a filter)."""
    screen = Screen(filt, channel) if filt is not None else None
    async for piece in pieces:
        if screen is None:
            yield piece
        elif shown := screen.feed(piece):
            yield shown
    if screen is not None and (rest := screen.end()):
        yield rest
