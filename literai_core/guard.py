"""Guards on generated text, before anyone sees it.

A small model given a transcript, a persona or instructions often hands them back: it
recites chat lines, starts a new ``name:`` turn, repeats its system prompt, or loops on
its own words. Every generation path (answers, summaries, story passages, podcast lines)
reads its output sentence by sentence through a :class:`Guard` and keeps the sentences
up to the first bad one; what is kept ends on a sentence boundary. ``bench/answers.py``
and ``bench/longform.py`` measure what gets through with scorers written apart from
these rules (``bench/scores.py``).

The rules, per sentence (words: runs of letters and digits, with inner apostrophes,
lowercased; in scripts without spaces each character is a word):
- label: it starts with, or contains, ``<name>:`` for a chat name or a role word
  (user, assistant, system, human, ai, bot, viewer, chat); continuing a raw transcript
  (``Sources.turns``), also any one-word ``name:`` at its start, or a handle-shaped one
  (``sarah_schloe:``) anywhere: the model has begun someone else's line;
- instruction: it shares a run of 5 words with an instruction, persona or prompt
  scaffold, or of 8 words with text given as context (a premise, a summary so far),
  counting the last words said before it (a copy across short sentences);
- transcript: it is a chat line (2 words or more), holds a whole chat line of 4 words
  or more, or half of its word 4-grams are in the chat lines given;
- repeat: it says a sentence already said, half of its 4-grams were said before, it
  repeats its own 4-grams more than ``SELF_REPEAT``, or it says one word 3-gram
  ``LOOP3`` times ("the best is 27:41, the sum is 27:41, and the PB is 27:41"). Within
  one sentence only: across a long answer, a 3-gram said three times is ordinary.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# Scripts written without spaces (Chinese, Japanese kana and kanji, Thai...): one
# character is one word, so n-grams over them still mean something.
_UNSPACED = "\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{_UNSPACED}]|(?:(?![{_UNSPACED}])[^\W_])+(?:'(?:(?![{_UNSPACED}])[^\W_])+)*")
# A sentence ends at . ! ? … (with closing quotes or brackets) before a space, unless
# it closes an abbreviation or trails off ("fav. thing", "... but") before a lowercase
# word, at a full-width 。！？ (no space follows those), or at a newline; whatever
# follows the last end is the unfinished rest.
_END = re.compile(r"[.!?…]+[\"'”’)\]*]*(?=\s|$)|[。！？]+[」』）]*|\n")
# Words written short with a period ("fav.", "e.g.", "Dr."): before a lowercase word or
# a number, their period ends no sentence ("My fav. thing", "No. 5"); so does an ellipsis.
_ABBREVIATIONS = frozenset(
    "fav favs mr mrs ms dr st vs etc approx min max no nos vol fig jr sr inc ltd co mt "
    "ft lb lbs oz pt ca cf al esp ep pp".split()
)
_LAST_WORD = re.compile(r"([^\W\d_]+)$")


def _shortened(text: str, m: re.Match[str]) -> bool:
    """Whether the end mark ``m`` may close an abbreviation (or trail off), not a sentence."""
    mark = m.group().rstrip("\"'”’)]*")
    if mark in ("...", "…"):
        return True
    if mark != ".":
        return False
    start = max(0, m.start() - 8)  # abbreviations are short: look no further back
    word = _LAST_WORD.search(text, start, m.start())
    if word is None or (word.start() == start and start > 0):
        return False  # no word, or one longer than any abbreviation
    return len(word.group()) == 1 or word.group().lower() in _ABBREVIATIONS


ROLES = ("user", "assistant", "system", "human", "ai", "bot", "viewer", "chat")
SELF_REPEAT = 0.2  # the share of a sentence's own 4-grams that may repeat
SHARE = 0.5  # the share of a sentence's 4-grams taken from a source that makes it an echo
LOOP3 = 3  # a word 3-gram said this many times is a loop
COPY_RUN = 8  # words in a row from the chat lines that stop an unfinished sentence
_ONE_CHAR = re.compile(rf"[{_UNSPACED}]")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def grams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def self_repeat(tokens: list[str], n: int = 4) -> float:
    """The share of the n-grams that already occurred earlier in the same tokens."""
    seen: set[tuple[str, ...]] = set()
    again = total = 0
    for gram in grams(tokens, n):
        total += 1
        again += gram in seen
        seen.add(gram)
    return again / total if total > 1 else 0.0


def looping(tokens: list[str]) -> bool:
    """Whether one word 3-gram occurs ``LOOP3`` times or more. In scripts without
    spaces a word is one character, and 3-grams of those ("ました") recur in any
    longer text: they do not count."""
    counts = Counter(g for g in grams(tokens, 3) if not all(_ONE_CHAR.fullmatch(t) for t in g))
    return bool(counts) and counts.most_common(1)[0][1] >= LOOP3


def split_sentences(text: str, *, final: bool = True) -> tuple[list[str], str]:
    """The complete sentences of ``text`` (each with its trailing spaces) and the
    unfinished rest. ``final=False``: more text may follow (a stream), so an end mark at
    the very end is not yet an end ("3." may become "3.5", and the space after it is
    still to come), nor an abbreviation's period before the next word has come ("My
    fav." may go on "thing")."""
    out: list[str] = []
    start = 0
    for m in _END.finditer(text):
        end = m.end()
        if not final and end >= len(text):
            break
        while end < len(text) and text[end].isspace():
            end += 1
        if _shortened(text, m):
            if end < len(text) and (text[end].islower() or text[end].isdigit()):
                continue  # "My fav. thing", "e.g. a bell", "Well... maybe": it goes on
            if not final and end >= len(text):
                break  # the next word, still to come, says whether "My fav." goes on
        if text[start:end].strip():
            out.append(text[start:end])
        start = end
    return out, text[start:]


@dataclass(frozen=True)
class Sources:
    """What a text must not hand back."""

    transcript: tuple[str, ...] = ()  # chat lines' texts
    names: tuple[str, ...] = ()  # speakers in the chat (their "name:" labels)
    instructions: tuple[str, ...] = ()  # persona, system prompt, prompt scaffolding
    quoted: tuple[str, ...] = ()  # text given as context (a premise, a summary): no 8-word copies
    turns: bool = False  # the prompt is a raw transcript: any "name:" may open a new turn
    # The prompt's own words, found anywhere, colon or not ("the story so far"): too
    # short for the 5-word rule, too plainly the prompt to be the model's own prose;
    # unless the quoted text uses them itself (a story about a bard who sums it up).
    phrases: tuple[str, ...] = ()


class Guard:
    def __init__(self, sources: Sources = Sources()) -> None:
        heard = [words(line) for line in sources.transcript]
        self._lines = {" ".join(w) for w in heard if len(w) >= 2}
        self._chat4 = {g for w in heard for g in grams(w, 4)}
        # Whole chat lines of 4+ words, space-delimited, to find inside a longer sentence.
        self._inside = {f" {' '.join(w)} " for w in heard if len(w) >= 4}
        self._told5 = {g for text in sources.instructions for g in grams(words(text), 5)}
        self._given8 = {g for text in sources.quoted for g in grams(words(text), 8)}
        names = sorted({*ROLES, *(n.strip().lower() for n in sources.names if n.strip())})
        alts = "|".join(re.escape(n) for n in names if n)
        # "name:", "Premise 2:", "**User**:" ...
        self._label = re.compile(
            rf"(?:^|[\s>\"'(*])(?:{alts})(?:\s+\d+)?\**\s*:(?:\s|$)", re.IGNORECASE
        )
        self._turn = _TURN if sources.turns else None
        quoted = f" {' '.join(w for text in sources.quoted for w in words(text))} "
        padded = (f" {' '.join(words(p))} " for p in sources.phrases if words(p))
        self._phrases = tuple(p for p in padded if p not in quoted)

    def verdict(self, sentence: str, said: Iterable[str] = ()) -> str | None:
        """Why ``sentence`` must not be shown after ``said``; None when it may."""
        if any(self._labels(sentence)):
            return "label"
        tokens = words(sentence)
        if not tokens:
            return None
        fours = grams(tokens, 4)
        if self._told(tokens):
            return "instruction"
        said = list(said)
        if self._given8:
            # Copied context may run across short sentences ("She's a loner, not a
            # loner. She's got a story to tell."): the last 7 words said lead in.
            lead = words(said[-1])[-7:] if said else []
            if any(g in self._given8 for g in grams(lead + tokens, 8)):
                return "instruction"
        joined = " ".join(tokens)
        padded = f" {joined} "  # whole words: a phrase or chat line found inside
        if any(p in padded for p in self._phrases):
            return "instruction"
        if joined in self._lines or _share(fours, self._chat4) >= SHARE:
            return "transcript"
        if self._inside and any(line in padded for line in self._inside):
            return "transcript"
        before = {" ".join(words(s)) for s in said}
        earlier = {g for s in said for g in grams(words(s), 4)}
        if joined in before or _share(fours, earlier) >= SHARE:
            return "repeat"
        if self_repeat(tokens) > SELF_REPEAT or looping(tokens):
            return "repeat"
        return None

    def hopeless(self, partial: str) -> bool:
        """Whether an unfinished sentence is already sure, or all but sure, to be refused
        when it ends, so its stream can stop now instead of at its end: it holds a 5-word
        run of an instruction (refused whatever follows), or its last ``COPY_RUN`` words
        are a run copied from the chat lines (a small model copying a line, its own
        earlier answer most often, goes on copying it), or it holds a ``name:`` label
        followed by a space (a new turn, most often ``!gpt2``'s: at the very end, "10:"
        may still become "10:30")."""
        if any(m.group()[-1:].isspace() for m in self._labels(partial)):
            return True
        tokens = words(partial)
        if self._told(tokens):
            return True
        tail = grams(tokens[-COPY_RUN:], 4) if len(tokens) >= COPY_RUN else []
        return bool(tail) and all(g in self._chat4 for g in tail)

    def _labels(self, text: str) -> Iterator[re.Match[str]]:
        """The labels in ``text``: chat names and role words, and new turns where the
        prompt is a transcript."""
        for rule in (self._label, self._turn):
            if rule is not None:
                yield from rule.finditer(text)

    def _told(self, tokens: list[str]) -> bool:
        """Whether ``tokens`` hold a run of 5 words of an instruction."""
        return bool(self._told5) and any(g in self._told5 for g in grams(tokens, 5))

    def keep(self, text: str, said: Iterable[str] = ()) -> tuple[str, str | None]:
        """The complete sentences of ``text`` up to the first bad one, and why it
        stopped there (None: every complete sentence passed)."""
        kept: list[str] = list(said)
        start = len(kept)
        done, _ = split_sentences(text)
        for sentence in done:
            why = self.verdict(sentence, kept)
            if why is not None:
                return "".join(kept[start:]).strip(), why
            kept.append(sentence)
        return "".join(kept[start:]).strip(), None


def clean(
    text: str,
    guard: Guard,
    *,
    source: str = "",
    grounding: float = 0.0,
    said: Iterable[str] = (),
    document: str = "",
) -> str:
    """The long-form guard: ``text``'s complete sentences that pass ``guard`` (each
    judged against ``said`` and the ones kept before it), the others dropped; with
    ``source``, also those with less than ``grounding`` of their content words in it (a
    summary sentence the text does not support) or a number it never gave; with
    ``document`` (the whole text a summary of summaries stands for), the same against it
    too, so support does not wear thin round by round. What is left ends on a sentence."""
    done, _ = split_sentences(text)
    grounds = [({_stem(w) for w in words(t)}, _numbers(t)) for t in (source, document) if t]
    before = list(said)
    kept: list[str] = []
    for sentence in done:
        if not ended(sentence):  # a line break is no sentence end in prose
            continue
        if guard.verdict(sentence, [*before, *kept]) is not None:
            continue
        if any(not _grounded(sentence, *g, grounding) for g in grounds):
            continue
        kept.append(sentence)
    return " ".join(" ".join(s.split()) for s in kept)


def _grounded(sentence: str, known: set[str], numbers: set[str], grounding: float) -> bool:
    """``grounding`` of its content words and every number it gives are in the text."""
    return _support(sentence, known) >= grounding and _numbers(sentence) <= numbers


# In a continued transcript, a new speaker's turn: any one-word "name:" opening a line,
# or a chat handle (with a digit or an underscore: "sarah_schloe:", "user1:") anywhere.
_TURN = re.compile(r"^\s*[^\s:]{1,40}:(?:\s|$)|(?:^|\s)[a-z]+(?:[_\d][a-z\d]*)+:(?:\s|$)", re.I)
_ENDED = re.compile(r"(?:[.!?…][\"'”’)\]*]*|[。！？][」』）]*)\s*$")


def ended(text: str) -> bool:
    """Whether ``text`` ends a sentence (an end mark, closing quotes or brackets, space)."""
    return _ENDED.search(text) is not None


_NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
    "eighty ninety hundred thousand million billion".split()
)


def _numbers(text: str) -> set[str]:
    """The numbers in ``text``, as digit runs and number words."""
    return {w for w in words(text) if w.isdigit() or w in _NUMBER_WORDS} | set(
        re.findall(r"\d+", text)
    )


_STOP = frozenset(
    "a an the and or but if of to in on at by for with from as is are was were be been "
    "it its this that these those he she they them his her their we you i me my our your "
    "not no so then than there here what which who whom when where why how all any each "
    "some more most other into over after before about up down out off again also just "
    "very can will would could should may might must do does did has have had".split()
)


def _stem(word: str) -> str:
    for end in ("ing", "ed", "es", "s"):
        if word.endswith(end) and len(word) - len(end) >= 3:
            return word[: -len(end)]
    return word


def _support(sentence: str, known: set[str]) -> float:
    content = [_stem(w) for w in words(sentence) if w not in _STOP and len(w) > 2]
    return sum(w in known for w in content) / len(content) if content else 1.0


def _share(fours: list[tuple[str, ...]], source: set[tuple[str, ...]]) -> float:
    if not fours or not source:
        return 0.0
    return sum(g in source for g in fours) / len(fours)
