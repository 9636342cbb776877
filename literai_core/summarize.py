"""Summaries of text of any length within a small model's context: split on paragraph,
then sentence, then word boundaries into chunks of at most ``chunk_tokens``; summarize
each chunk (map); join the summaries and, while they are still too long for one call,
summarize them again (reduce), at most ``max_depth`` rounds. An inference error stops
the whole summary (raised); it never becomes part of the text. A part whose summary
does not hold up under the guard is represented by its opening sentences; a final
summary that does not is an error.

Token counts are a local, deliberately high estimate (see ``count_tokens``): a chunk
that is estimated to fit always fits the model's window with room for the prompt.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from .guard import Guard, Sources, clean, ended
from .inference import Generation, Inference
from .settings import SummarySettings

log = logging.getLogger(__name__)
_PARAGRAPHS = re.compile(r"\n\s*\n")
_SENTENCES = re.compile(r"(?<=[.!?…])[\"')\]]*\s+")

SYSTEM = (
    "You summarize text faithfully and briefly. Keep names, places, numbers and what "
    "happened, in order. Write plain prose; never add anything that is not in the text."
)


class SummaryError(ValueError):
    """The text cannot be summarized; ``str()`` is one line for chat or the CLI."""


@dataclass(frozen=True)
class SummaryBudget:
    chunk_tokens: int = 1200  # input per call
    summary_tokens: int = 160  # output per call
    max_depth: int = 4  # reduce rounds before giving up on getting shorter
    temperature: float = 0.2
    grounding: float = 0.8  # a summary sentence keeps at least this share of its words in the text
    chat_grounding: float = 0.5  # the same, in a summary of a chat

    @classmethod
    def from_settings(cls, s: SummarySettings) -> SummaryBudget:
        return cls(
            s.chunk_tokens, s.summary_tokens, s.max_depth, s.temperature, s.grounding,
            s.chat_grounding,
        )  # fmt: skip


def count_tokens(text: str) -> int:
    """A high estimate of tokens for English text with a BPE tokenizer (SmolLM2's runs
    about 4.2 characters a token on prose; 3 is used, and every word counts at least
    one). Local, so splitting needs no round trips."""
    return max(len(text) // 3, len(text.split()))


def split_chunks(text: str, budget: int) -> list[str]:
    """Chunks of at most ``budget`` estimated tokens, cut at the largest boundary that
    makes them fit: paragraphs, then sentences, then words (a single word longer than
    the budget is cut by characters)."""
    chunks: list[str] = []
    for piece in _pieces(text.strip(), budget):
        if chunks and count_tokens(chunks[-1] + "\n\n" + piece) <= budget:
            chunks[-1] = chunks[-1] + "\n\n" + piece
        else:
            chunks.append(piece)
    return chunks


def _pieces(text: str, budget: int) -> list[str]:
    """The text as pieces that each fit, largest units first."""
    if count_tokens(text) <= budget:
        return [text] if text else []
    for pattern, joiner in ((_PARAGRAPHS, "\n\n"), (_SENTENCES, " ")):
        parts = [p.strip() for p in pattern.split(text) if p.strip()]
        if len(parts) > 1:
            out: list[str] = []
            for part in parts:
                for small in _pieces(part, budget):
                    if out and count_tokens(out[-1] + joiner + small) <= budget:
                        out[-1] = out[-1] + joiner + small
                    else:
                        out.append(small)
            return out
    words = text.split()
    if len(words) > 1:
        half = len(words) // 2
        return _pieces(" ".join(words[:half]), budget) + _pieces(" ".join(words[half:]), budget)
    step = budget * 3  # one enormous "word": cut it
    return [text[i : i + step] for i in range(0, len(text), step)]


Progress = Callable[[str, int, int], None]  # (stage, done, total)


async def summarize(
    inference: Inference,
    text: str,
    budget: SummaryBudget = SummaryBudget(),
    *,
    about: str = "",
    progress: Progress | None = None,
) -> str:
    """A summary of ``text`` (``about`` says what it is, e.g. "Twitch chat")."""
    current = text.strip()
    if not current:
        raise SummaryError("there is nothing to summarize")
    # The speakers of a chat, from the chat itself: a later round reads summaries,
    # where a recited "name:" would no longer be known as one.
    names = _speakers(current)
    chat = is_transcript(current)
    for depth in range(budget.max_depth + 1):
        chunks = split_chunks(current, budget.chunk_tokens)
        if len(chunks) == 1:
            return await _one(inference, chunks[0], budget, about, names, final=True, chat=chat,
                              document=text if depth else "")  # fmt: skip
        stage = "summarizing" if depth == 0 else f"combining (round {depth})"
        parts = []
        for i, chunk in enumerate(chunks):
            if progress is not None:
                progress(stage, i, len(chunks))
            part = await _one(inference, chunk, budget, about, names, final=False, chat=chat,
                              document=text if depth else "")  # fmt: skip
            parts.append(part)
        if progress is not None:
            progress(stage, len(chunks), len(chunks))
        joined = "\n\n".join(part for part in parts if part)
        if not joined:
            raise SummaryError("the model's summary did not hold up (it echoed or wandered)")
        if count_tokens(joined) >= count_tokens(current):
            raise SummaryError("the summaries are not getting shorter")
        current = joined
    raise SummaryError(f"still too long after {budget.max_depth} rounds of summarizing")


FINAL = "Summarize the text above{what} in a short paragraph."
PART = "Summarize the text above{what}, one part of a longer text, in a few sentences."


async def _one(
    inference: Inference,
    text: str,
    budget: SummaryBudget,
    about: str,
    names: tuple[str, ...],
    *,
    final: bool,
    chat: bool = False,
    document: str = "",
) -> str:
    """One call, the text first and the instruction last (a small model follows the
    last thing it read), its output through the long-form guard: sentences that recite
    the instructions, label a speaker, repeat or are not supported by the text are
    dropped, and what is left ends on a sentence. Nothing left: written again (twice for
    the final summary), then a document's text stands in with its opening, a part of a
    chat is left out ("") and a chat's final summary is an error. ``document``: the
    whole text, when ``text`` is a round of summaries of it (each sentence must be
    supported by both: 0.8 of 0.8 compounded to 0.64 in bench/longform.py)."""
    what = f" ({about})" if about else ""
    ask = (FINAL if final else PART).format(what=what)
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"{text}\n\n{ask}"},
    ]
    guard = Guard(Sources(names=names, instructions=(SYSTEM, FINAL, PART)))
    # A final summary is all there is to show: one more try than a part gets.
    for attempt in range(3 if final else 2):
        gen = Generation(
            max_tokens=budget.summary_tokens,
            temperature=budget.temperature if attempt == 0 else max(budget.temperature, 0.6),
            frequency_penalty=0.3 * attempt,
        )
        pieces: AsyncIterator[str] = inference.stream_chat(messages, gen)
        out = "".join([piece async for piece in pieces]).strip()
        share = budget.chat_grounding if chat else budget.grounding
        kept = await asyncio.to_thread(
            clean, out, guard, source=text, grounding=share, document=document
        )
        if kept:
            return kept
    if not final and chat:
        # A part of a chat has no stand-in (its opening would recite the chat, names
        # and all): it is left out, and the other parts are summarized.
        log.warning("a part of the chat could not be summarized; it is left out")
        return ""
    if chat:
        raise SummaryError("the model's summary did not hold up (it echoed or wandered)")
    # One part of a book must not sink the whole summary, nor a final summary that did
    # not hold up leave the reader with nothing: the text's opening sentences (its own
    # words; at the top of a long text, the first parts' summaries) stand in.
    log.warning("a summary did not hold up; the text's opening sentences stand in")
    return opening(text, budget.summary_tokens)


def opening(text: str, tokens: int) -> str:
    """The first finished sentences of ``text`` in at most ``tokens`` (at least one
    sentence); headings and other lines without an end mark are left out."""
    out: list[str] = []
    for paragraph in _PARAGRAPHS.split(text):
        for sentence in _SENTENCES.split(" ".join(paragraph.split())):
            if not ended(sentence):
                continue
            if out and count_tokens(" ".join([*out, sentence])) > tokens:
                return " ".join(out)
            out.append(sentence)
    return " ".join(out)


_SPEAKER = re.compile(r"^([^\s:]{1,40}):", re.MULTILINE)


def is_transcript(text: str) -> bool:
    """Whether ``text`` reads as a chat transcript: half or more of its lines are
    ``name: text`` ("Chapter 1: ..." heading a book does not make it one)."""
    lines = [line for line in text.splitlines() if line.strip()]
    said = sum(1 for line in lines if _SPEAKER.match(line))
    return bool(lines) and 2 * said >= len(lines)


def _speakers(text: str) -> tuple[str, ...]:
    """The names of a chat transcript's speakers (``name: text`` lines)."""
    return tuple({m.group(1) for m in _SPEAKER.finditer(text)})
