"""A chat's highlights: the lines that say the most, quoted as they were said.

The chat summary's default (``bot.summary.chat_style: highlights``). The embedded 135M
model cannot summarize a busy chat: on the long-form bench's speedrun chat its
summaries named 6% of the chat's key facts and invented others ("the cat is called
Golden Ridge"), while the chat's own most informative lines named 60% and cannot be
wrong about what was said. So ``!summary`` and timed recaps quote those lines, in the
order they were said; ``chat_style: model`` keeps the model's summary (a larger model
may do better; ``bench/longform.py`` measures both).

A line says more when it has more distinct content words, numbers ("1:52:47", "$25")
and names (capitalized words inside it); greetings, emote spam, commands and lines of
fewer than four words say little. At most five lines are quoted, each saying at least
0.6 of what the best one says. A line that mostly repeats what a quoted line said is
skipped. Quoted lines keep their speaker's name but lose the ``@`` of any mention (a
quote must not ping anyone again), and each ends as a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .chat import ChatLine

_TOKEN = re.compile(r"[^\W_]+(?:[':.,$%][^\W_]+)*|\$\d+", re.UNICODE)
_END = re.compile(r"[.!?…。！？]['\")\]]*$")
_MENTION = re.compile(r"(?<![\w@])@(?=\w)")
_STOP = frozenset(
    "a an the and or but if of to in on at by for with from as is are was were be been am "
    "it its this that these those he she they them his her their we you i me my our your "
    "not no so then than there here what which who when where why how all any some very "
    "can will would could should do does did has have had just like yes yeah lol lmao omg "
    "oh ah hi hey hello bye gg ok okay im i'm it's that's don't can't get got one".split()
)
MIN_WORDS = 4
QUOTE_CHARS = 160  # one quoted line at most; a longer one is cut at a word
OVERLAP = 0.6  # a line whose content words were this much quoted already is skipped
MAX_LINES = 5  # quoted at most
BAR = 0.6  # of the best line's weight: a line must say at least this much


def _words(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _content(words: Iterable[str]) -> set[str]:
    return {w.lower() for w in words if w.lower() not in _STOP and (len(w) > 2 or w.isdigit())}


def weight(text: str) -> float:
    """How much a chat line says (0: nothing worth quoting)."""
    return _measure(text)[0]


def _measure(text: str) -> tuple[float, set[str]]:
    """The line's weight and its content words."""
    words = _words(text)
    if len(words) < MIN_WORDS:
        return 0.0, set()
    content = _content(words)
    numbers = sum(1 for w in words if any(c.isdigit() for c in w))
    # A name inside the line: capitalized, not all capitals (LUL, KEKW), not the
    # first word, not an emote-like CamelCase run (PogChamp, NotLikeThis).
    names = sum(
        1
        for w in words[1:]
        if w[:1].isupper() and not w.isupper() and not any(c.isupper() for c in w[1:])
    )
    shouting = sum(1 for w in words if w.isupper() and len(w) > 1) > len(words) / 2
    score = len(content) + 2 * numbers + names - (2 if text.rstrip().endswith("?") else 0)
    return (0.0 if shouting else max(score, 0.0)), content


def quote(line: ChatLine) -> str:
    """``name: text.`` with mentions defused, within ``QUOTE_CHARS``."""
    text = _MENTION.sub("", " ".join(line.text.split()))
    if len(text) > QUOTE_CHARS:
        text = text[: QUOTE_CHARS - 1].rsplit(" ", 1)[0].rstrip(",;:-") + "…"
    return f"{line.user}: {text}" + ("" if _END.search(text) else ".")


def highlights(lines: list[ChatLine], max_chars: int, *, prefix: str = "!") -> str:
    """The most informative of ``lines`` (commands left out) quoted in the order said:
    at most ``MAX_LINES`` that fit ``max_chars``, each saying at least ``BAR`` of what
    the best one says; "" when no line says enough."""
    said = [ln for ln in lines if not ln.own and not ln.text.lstrip().startswith(prefix)]
    measured = [_measure(ln.text) for ln in said]
    ranked = sorted(range(len(said)), key=lambda i: (-measured[i][0], i))
    bar = BAR * max((w for w, _ in measured), default=0.0)
    chosen: dict[int, str] = {}  # index in said -> its quote
    covered: set[str] = set()
    used = 0
    for i in ranked:
        weight_i, content = measured[i]
        if weight_i <= 0 or weight_i < bar or len(chosen) == MAX_LINES:
            break
        if content and len(content & covered) / len(content) >= OVERLAP:
            continue
        quoted = quote(said[i])
        cost = len(quoted) + (1 if chosen else 0)
        if used + cost > max_chars:
            continue
        chosen[i] = quoted
        covered |= content
        used += cost
    return " ".join(chosen[i] for i in sorted(chosen))
