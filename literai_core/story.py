"""Story mode: AutoMuse's "continue, then summarize the story so far" loop, with the
fix for where it got stuck. Each round gets the summary so far, the last passage and any
suggestion from the audience; the new passage is measured against everything written
before (the share of its word 4-grams already used); over the threshold it is written
again with stronger penalties and a nudge (a new event, a new character), up to a
limit, and the least repetitive try is kept. Then the summary is updated. An inference
error fails the round and changes nothing: errors are never written into the story.

State lives per channel in SQLite in the data folder, so a story survives a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .guard import Guard, Sources, clean, grams, words
from .inference import Generation, Inference
from .settings import StorySettings

NUDGES = (
    "Something unexpected happens that changes the situation.",
    "A new character arrives with a reason of their own.",
    "The scene moves to a different place.",
    "Someone makes a decision they cannot take back.",
    "A secret comes out.",
)

SYSTEM = (
    "You are a storyteller. Continue the story with one new paragraph of vivid prose. "
    "Move the plot forward; do not repeat earlier sentences; do not summarize; no titles."
)


def repetition(passage: str, earlier: str, n: int = 4) -> float:
    """The share of ``passage``'s word n-grams that already occur in ``earlier``."""
    mine = grams(words(passage), n)
    if not mine:
        return 0.0
    seen = set(grams(words(earlier), n))
    return sum(1 for g in mine if g in seen) / len(mine)


def distinct(text: str, n: int = 2) -> float:
    """Distinct-n: unique word n-grams over all of them (1.0: nothing repeats)."""
    seen = grams(words(text), n)
    return len(set(seen)) / len(seen) if seen else 1.0


@dataclass(frozen=True)
class StoryKnobs:
    passage_tokens: int = 140
    summary_tokens: int = 120
    temperature: float = 0.8
    repeat_threshold: float = 0.25  # share of 4-grams already used
    retries: int = 2
    penalty_step: float = 0.6  # frequency penalty added per retry
    seed: int | None = None  # for reproducible runs (the benchmark)
    max_passages: int = 50  # kept in the story (older ones live on in its summary)

    @classmethod
    def from_settings(cls, s: StorySettings, seed: int | None = None) -> StoryKnobs:
        return cls(
            s.passage_tokens, s.summary_tokens, s.temperature, s.repeat_threshold, s.retries,
            seed=seed, max_passages=s.max_passages,
        )  # fmt: skip


@dataclass
class Story:
    premise: str
    summary: str = ""
    passages: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n\n".join(self.passages)

    def earlier(self) -> str:
        return "\n\n".join([self.premise, *self.passages])


@dataclass(frozen=True)
class Passage:
    text: str
    repeat: float  # of the kept try
    tries: int


def _continue_messages(story: Story, suggestion: str, nudge: str) -> list[dict[str, str]]:
    parts = [f"Premise: {story.premise}"]
    if story.summary:
        parts.append(f"The story so far, in short: {story.summary}")
    if story.passages:
        parts.append(f"The last paragraph: {story.passages[-1]}")
    if suggestion:
        parts.append(f"The audience asks for this next: {suggestion}")
    if nudge:
        parts.append(f"Important: {nudge} Do not reuse earlier wording.")
    parts.append("Write the next paragraph.")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


SUMMARY_SYSTEM = "You keep a short, faithful summary of a story."
SUMMARY_ASK = "Write the updated summary in at most four sentences."
# The prompt's own headings: a passage that starts one ("The story so far: ...") is
# reciting the prompt.
LABELS = (
    "premise", "the story so far", "the story so far, in short", "story so far",
    "the last paragraph", "last paragraph", "new paragraph", "summary", "summary so far",
    "the audience asks for this next", "important", "paragraph",
)  # fmt: skip


HEADINGS = ("The story so far, in short:", "The audience asks for this next:")
# Said anywhere in a passage, these are the prompt recited (bench/longform.py counts them),
# unless the story itself says them (a premise about an audience that asks for more).
PROMPT_WORDS = (
    "the story so far", "write the next paragraph", "the audience asks for this next",
    "do not reuse earlier",
)  # fmt: skip


def _guard(story: Story, suggestion: str) -> Guard:
    given = (story.premise, story.summary, *story.passages[-1:], suggestion)
    told = (
        SYSTEM,
        *NUDGES,
        *HEADINGS,
        "Write the next paragraph.",
        "Do not reuse earlier wording.",
    )
    return Guard(Sources(names=LABELS, instructions=told, quoted=given, phrases=PROMPT_WORDS))


async def _complete(inference: Inference, messages: list[dict[str, str]], gen: Generation) -> str:
    return "".join([p async for p in inference.stream_chat(messages, gen)]).strip()


async def next_passage(
    inference: Inference, story: Story, knobs: StoryKnobs, suggestion: str = ""
) -> Passage:
    """Write the next passage (guarded against repetition), append it and update the
    summary. On any exception ``story`` is left as it was."""
    best: Passage | None = None
    earlier = story.earlier()
    for attempt in range(knobs.retries + 1):
        nudge = "" if attempt == 0 else NUDGES[(len(story.passages) + attempt) % len(NUDGES)]
        gen = Generation(
            max_tokens=knobs.passage_tokens,
            temperature=knobs.temperature,
            frequency_penalty=min(2.0, attempt * knobs.penalty_step),
            seed=None if knobs.seed is None else knobs.seed + 1000 * len(story.passages) + attempt,
        )
        raw = await _complete(inference, _continue_messages(story, suggestion, nudge), gen)
        # Off the loop: the guard drops sentences that recite the prompt, copy the
        # premise or summary, or loop; what is left ends on a sentence.
        text = await asyncio.to_thread(clean, raw, _guard(story, suggestion))
        if not text:
            continue
        score = await asyncio.to_thread(repetition, text, earlier)  # CPU work, off the loop
        if best is None or score < best.repeat:
            best = Passage(text, score, attempt + 1)
        if score <= knobs.repeat_threshold:
            break
    if best is None:
        raise ValueError("the model wrote nothing")
    best = Passage(best.text, best.repeat, attempt + 1)
    raw = await _complete(
        inference,
        [
            {"role": "system", "content": SUMMARY_SYSTEM},
            {
                "role": "user",
                "content": (
                    f"Summary so far: {story.summary or story.premise}\n\n"
                    f"New paragraph: {best.text}\n\n{SUMMARY_ASK}"
                ),
            },
        ],
        Generation(max_tokens=knobs.summary_tokens, temperature=0.2, seed=knobs.seed),
    )
    told = Sources(names=LABELS, instructions=(SUMMARY_SYSTEM, SUMMARY_ASK))
    summary = await asyncio.to_thread(clean, raw, Guard(told))
    story.passages.append(best.text)
    # Bounded: the summary carries what the oldest passages said.
    del story.passages[: max(0, len(story.passages) - knobs.max_passages)]
    story.summary = summary or story.summary
    return best


class StoreError(Exception):
    """The story store cannot be read or written (a full disk, a broken file); ``str()``
    is one line for chat."""


class StoryStore:
    """One story per channel, as JSON rows in SQLite. Calls are quick and made off the
    event loop by the caller (``asyncio.to_thread``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._run("CREATE TABLE IF NOT EXISTS stories (channel TEXT PRIMARY KEY, story TEXT)")

    def _run(self, sql: str, args: tuple[str, ...] = ()) -> tuple[list[tuple[str]], int]:
        """Rows and the changed-row count; the connection is closed again at once. A
        full disk or a broken file is a StoreError (the transaction is rolled back:
        what was stored stays as it was)."""
        try:
            with self._lock, contextlib.closing(sqlite3.connect(self.path, timeout=10)) as db:
                with db:  # commits, or rolls back on an error
                    cursor = db.execute(sql, args)
                    return cursor.fetchall(), cursor.rowcount
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"the story store failed ({exc})") from None

    def get(self, channel: str) -> Story | None:
        rows, _ = self._run("SELECT story FROM stories WHERE channel = ?", (channel,))
        return Story(**json.loads(rows[0][0])) if rows else None

    def put(self, channel: str, story: Story) -> None:
        self._run(
            "INSERT OR REPLACE INTO stories (channel, story) VALUES (?, ?)",
            (channel, json.dumps(asdict(story))),
        )

    def delete(self, channel: str) -> bool:
        return self._run("DELETE FROM stories WHERE channel = ?", (channel,))[1] > 0
