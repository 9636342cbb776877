"""Reactions to a stream's events: a follow, a raid, a sub, a resub, gift subs, cheers.

Each kind is off, a template (``"Welcome, {users}!"``) or a line the model writes with
the event as context (``mode: model``; the guard checks it like any answer, and a line
it refuses, or a failed call, falls back to the template). A channel gets one line per
kind at most every ``every_s`` seconds: events that arrive meanwhile, and those within
``gather_s`` of the first, are thanked together ("Thanks for the 12 gift subs, ana,
bo, cy and 9 others!"). Pending events are counted, and only the first ``NAMES`` names
kept, so a gift-sub storm cannot grow memory. Lines go out through
:meth:`Host.announce`, so the content filter and the overlay see them like answers.
"""

from __future__ import annotations

import asyncio
import logging
import string
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import Field, field_validator

from .chat import ChatLine, Reply, ReplyKind
from .guard import Guard, Sources, ended
from .host import Host
from .inference import Generation, InferenceError
from .prompts import data
from .settings_longform import Section
from .trim import trim_reply

log = logging.getLogger(__name__)

Kind = Literal["follow", "raid", "sub", "resub", "gift", "cheer"]
FIELDS = frozenset({"users", "count", "amount"})
NAMES = 3  # named in a line; the rest are "and N others"
KEPT = 50  # names kept per pending batch at most
MAX_CHARS = 300
ANONYMOUS = "an anonymous viewer"
_WHAT: dict[str, str] = {  # what the model is told the viewers did
    "follow": "following the channel",
    "raid": "raiding the channel with {amount} viewers",
    "sub": "subscribing",
    "resub": "subscribing again",
    "gift": "gifting {amount} subs",
    "cheer": "cheering {amount} bits",
}


def _check_template(template: str) -> str:
    """Only the plain fields {users}, {count} and {amount}: a template is formatted
    with viewer names, so attribute or index lookups must not be possible."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"not a valid template ({exc})") from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in FIELDS or spec or conversion:
            allowed = "only plain {users}, {count} and {amount} are allowed"
            raise ValueError(f"{{{name}{'!' + conversion if conversion else ''}}}: {allowed}")
    return template


DEFAULTS: dict[str, str] = {  # each kind's template unless the config gives one
    "follow": "Welcome, {users}!",
    "raid": "Welcome, raiders! Thanks for the raid, {users}.",
    "sub": "Thanks for subscribing, {users}!",
    "resub": "Thanks for staying, {users}!",
    "gift": "Thanks for the {amount} gift subs, {users}!",
    "cheer": "Thanks for the {amount} bits, {users}!",
}


class Reaction(Section):
    """How the bot reacts to one kind of event."""

    mode: Literal["off", "template", "model"] = Field(
        "off", description="off, the template, or a line the model writes (template: fallback)."
    )
    template: Annotated[str, Field(min_length=1, max_length=MAX_CHARS)] | None = Field(
        None,
        description="Empty: the kind's own (README). {users}: who (a, b and N others), "
        "{count}: how many events, {amount}: their total (raid viewers, subs gifted, bits).",
    )
    every_s: Annotated[float, Field(ge=0, le=3600)] = Field(
        30.0, description="One line of this kind per channel at most this often."
    )

    @field_validator("mode", mode="before")
    @classmethod
    def _yaml_switch(cls, value: object) -> object:
        """YAML reads a bare ``off`` as false and ``on`` as true: take them as meant."""
        if isinstance(value, bool):
            return "template" if value else "off"
        return value

    @field_validator("template")
    @classmethod
    def _plain_fields(cls, value: str | None) -> str | None:
        return None if value is None else _check_template(value)


class EventSettings(Section):
    """Reactions to the stream's events (all off until a streamer turns them on)."""

    follow: Reaction = Field(default_factory=Reaction, description="A new follower.")
    raid: Reaction = Field(default_factory=Reaction, description="A raid (amount: viewers).")
    sub: Reaction = Field(default_factory=Reaction, description="A new sub (not a gifted one).")
    resub: Reaction = Field(default_factory=Reaction, description="A resub shared in chat.")
    gift: Reaction = Field(default_factory=Reaction, description="Gift subs (amount: subs).")
    cheer: Reaction = Field(default_factory=Reaction, description="Cheers (amount: bits).")
    gather_s: Annotated[float, Field(ge=0, le=60)] = Field(
        3.0, description="How long a first event waits for more of its kind to thank together."
    )

    def of(self, kind: str) -> Reaction:
        reaction: Reaction = getattr(self, kind)
        return reaction

    def template(self, kind: str) -> str:
        return self.of(kind).template or DEFAULTS[kind]


@dataclass(frozen=True)
class StreamEvent:
    kind: Kind
    platform: str
    channel: str
    user: str  # who did it; "" when anonymous
    amount: int = 1  # raid viewers, subs gifted, bits; 1 otherwise


@dataclass
class _Batch:
    names: list[str] = field(default_factory=list)  # the first KEPT people, in order
    unnamed: int = 0  # events by people past the first KEPT
    count: int = 0
    amount: int = 0

    def add(self, event: StreamEvent) -> None:
        self.count += 1
        self.amount += max(0, event.amount)
        name = event.user or ANONYMOUS
        if name in self.names:
            return
        if len(self.names) < KEPT:
            self.names.append(name)
        else:
            self.unnamed += 1


def who(names: list[str], unnamed: int = 0) -> str:
    """``["a", "b", "c", "d"]`` -> "a, b, c and 1 other"."""
    shown = [data(n) for n in names[:NAMES]]
    others = len(names) - len(shown) + unnamed
    if others:
        return ", ".join(shown) + f" and {others} other" + ("s" if others > 1 else "")
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + f" and {shown[-1]}"


class Reactions:
    """Events in, at most one line per channel and kind per ``every_s`` out."""

    def __init__(
        self,
        host: Host,
        settings: EventSettings,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.host, self.settings, self.clock, self.sleep = host, settings, clock, sleep
        self._pending: dict[tuple[str, str, str], _Batch] = {}
        self._last: dict[tuple[str, str, str], float] = {}
        self.sent = 0  # lines posted
        self.events = 0  # events taken
        self.thanked = 0  # events thanked in a posted line

    def offer(self, event: StreamEvent) -> bool:
        """Take ``event`` for a line soon; False when its kind is off."""
        reaction = self.settings.of(event.kind)
        if reaction.mode == "off":
            return False
        key = (event.platform, event.channel, event.kind)
        self.events += 1
        batch = self._pending.get(key)
        if batch is None:
            batch = self._pending[key] = _Batch()
            last = self._last.get(key)
            due = self.settings.gather_s
            if last is not None:
                due = max(due, last + reaction.every_s - self.clock())
            self.host.spawn(self._post(key, due), f"thank {event.kind} in {event.channel}")
        batch.add(event)
        return True

    async def _post(self, key: tuple[str, str, str], delay: float) -> None:
        await self.sleep(delay)
        batch = self._pending.pop(key)
        self._last[key] = self.clock()
        platform, channel, kind = key
        reaction = self.settings.of(kind)
        users = who(batch.names, batch.unnamed)
        template = self.settings.template(kind)
        text = template.format(users=users, count=batch.count, amount=batch.amount)
        line = ChatLine(platform, channel, batch.names[0], "", self.clock())
        if reaction.mode == "model":
            named = [n for n in batch.names[:NAMES] if n != ANONYMOUS]
            text = await self._written(line, kind, users, batch.amount, named) or text
        self.sent += 1
        self.thanked += batch.count
        await self.host.announce(Reply(line, ReplyKind.ANSWER, trim_reply(text, MAX_CHARS)))

    async def _written(
        self, line: ChatLine, kind: str, users: str, amount: int, named: list[str]
    ) -> str | None:
        """The model's one line of thanks, or None when it fails, the guard refuses it,
        or it leaves out someone the template would name (bench/events.py: the
        embedded model named everyone in 31% of its lines, and wandered off in many)."""
        persona = self.host.persona(line.scope_key)
        what = _WHAT[kind].format(amount=amount)
        ask = (
            f"In one short, warm sentence for the stream chat, thank {users} for {what}. "
            "Write only that sentence."
        )
        messages = [{"role": "system", "content": data(persona)}, {"role": "user", "content": ask}]
        gen = Generation(max_tokens=48, temperature=0.7, model=self.host.model(line.scope_key))
        try:
            stream = self.host.inference.stream_chat(messages, gen, user=line.user)
            text = "".join([piece async for piece in stream])
        except InferenceError as exc:
            log.info("events: the model could not write a line (%s); using the template", exc)
            return None
        kept, _ = Guard(Sources(instructions=(persona, ask))).keep(" ".join(text.split()))
        kept = trim_reply(kept, MAX_CHARS)
        if not kept or not ended(kept):
            return None
        return kept if all(name.casefold() in kept.casefold() for name in named) else None
