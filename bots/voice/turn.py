"""One voice turn's timing and when it may show itself, and how its first sentence is
cut for speaking."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

_CLAUSE = re.compile(r"[,;:\u2013\u2014](?=\s)")  # a comma, semicolon, colon or dash, then a space


def clauses(sentence: str, *, min_words: int = 3) -> list[str]:
    """``sentence`` cut after its first clause when both parts keep ``min_words``: the
    first is spoken while the rest is synthesized (the guard passed the whole)."""
    for mark in _CLAUSE.finditer(sentence):
        head, tail = sentence[: mark.end()], sentence[mark.end() :]
        if len(head.split()) >= min_words and len(tail.split()) >= min_words:
            return [head, tail]
    return [sentence]


async def queue_sentence(sentences: asyncio.Queue[str | None], sentence: str, queued: int) -> int:
    """The first sentence of a turn goes in its clauses, so the first audio is sooner."""
    for part in clauses(sentence) if not queued else [sentence]:
        await sentences.put(part)
    return queued + 1


@dataclass
class Turn:
    """A turn: its number, its timing (milliseconds from the end of speech), and its
    gate: None, or (an early turn, begun at the first pause once its words were heard)
    a future that gives the time the end of speech was found. Nothing of an early turn
    reaches the page before it; ``shown`` is the task that shows the turn (its words,
    the count, the window) once it may."""

    number: int
    base: float  # the end of speech, or for an early turn its start until the gate gives it
    timing: dict[str, float]
    clock: Callable[[], float]
    gate: asyncio.Future[float] | None = None
    carry: Awaitable[str] | None = None
    shown: asyncio.Task[None] | None = field(default=None, repr=False)
    written: str = ""  # the answer's text so far
    sent: str = ""  # what of it the page has

    def mark(self, name: str) -> None:
        self.timing[name] = round((self.clock() - self.base) * 1000, 1)

    async def released(self) -> None:
        """Wait for the end of speech (at once for a turn begun at it)."""
        if self.gate is None:
            return
        ended = await asyncio.shield(self.gate)
        if "early_ms" not in self.timing:
            self.timing["early_ms"] = round((ended - self.base) * 1000, 1)
            self.base = ended

    def showing(self) -> bool:
        return self.shown is not None and self.shown.done()
