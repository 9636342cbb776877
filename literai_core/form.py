"""The shape a viewer asked for: "in one sentence", "in under 80 characters", "in five
words or fewer", "one word only", "yes or no", "name three ...".

A small model reads such a request and often ignores it. :func:`parse` finds it in the
question (English wording only); the request goes into the prompt as a plain hint
(:meth:`Form.hint`); a list of N things and a one-word answer are held to their shape
while they are sampled, where the server has structured outputs (:meth:`Form.schema`,
turned back into chat by :func:`prose`); and what can be enforced without
inventing anything is enforced on the answer, sentence by sentence (:meth:`Form.take`):
at most one sentence, within the length (the one sentence shortened at a clause or word
boundary, marked with "…", when it alone is too long), one word picked from the answer,
a bulleted list cut to the number asked. What cannot be cut into shape (an answer that
starts with yes or no, a list of the right number of things, a word the viewer asked to
be used) is checked on the whole answer (:meth:`Form.check`): one that fails is written
again (the command's ``retries``) and, when no try passes, the first answer is shown as
it is, since supplying the "yes" or the missing word would be making it up.
``bench/answers.py`` measures the result (format compliance).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

from .guard import split_sentences

_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
    "twenty": 20, "thirty": 30, "fifty": 50, "hundred": 100,
}  # fmt: skip
_N = r"(\d{1,4}|" + "|".join(_NUMBERS) + ")"
_UNDER = r"(?:under|less than|fewer than|at most|no more than|max(?:imum)?|within|in)"
_LIMIT = re.compile(
    rf"\b{_UNDER}\s+{_N}\s+(characters|chars|letters|words)\b"
    rf"|\b{_N}\s+(characters|chars|letters|words)\s+or\s+(?:less|fewer)\b",
    re.IGNORECASE,
)
_ONE_WORD = re.compile(r"\b(?:one|a single|1)[ -]word\b(?![ -]?(?:s\b|answers?\b|or\b))", re.I)
_ONE_SENTENCE = re.compile(r"\b(?:one|a single|1)[ -]sentences?\b", re.IGNORECASE)
_SENTENCES = re.compile(rf"\b(?:in|with|using|at most)\s+{_N}\s+sentences\b", re.IGNORECASE)
_YES_NO = re.compile(r"\byes\s*(?:or|/)\s*no\b", re.IGNORECASE)
_LIST = re.compile(rf"\b(?:name|list|give(?: me)?|tell me)\s+{_N}\b", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+", re.MULTILINE)
_NEEDS = re.compile(
    r"\b(?:use|uses|using|include|includes|including|contains?|containing|mentions?|"
    r"mentioning|with)\s+the\s+word\s+[\"'“‘]?([^\W\d_]+(?:['’-][^\W\d_]+)*)",
    re.IGNORECASE,
)
_PIECES = re.compile(r"[,;&]|\band\b|\bor\b", re.IGNORECASE)
_CLAUSE = re.compile(r"[,;:—–]\s")
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_COMMON = frozenset(
    "a an the and or but if of to in on at by for with from as is are was were be been "
    "it its this that these those he she they them his her their we you i me my our your "
    "not no so then than there here what which who when where why how all any some very "
    "can will would could should do does did has have had yes well oh sure think really "
    "just also one word answer only that's it's i'm good great question like love my "
    "favourite favorite definitely probably maybe "
    "aw aww awww ohh ah ahh hmm hm um uh wow hey hi hello ok okay yeah yep nope lol haha".split()
)
_COPULA = frozenset("is are was were be am".split())
# What structured outputs hold a listed thing or the one word to: letters first, short.
_ITEM_PATTERN = r"^[A-Za-z][A-Za-z0-9' -]{0,31}$"
_ONE_WORD_PATTERN = r"^[A-Za-z]{2,24}$"
MAX_SHAPED_ITEMS = 10  # a longer list would not fit an answer's tokens whole


def _number(text: str) -> int:
    return int(text) if text.isdigit() else _NUMBERS[text.lower()]


@dataclass(frozen=True)
class Form:
    sentences: int | None = None  # at most this many
    max_chars: int | None = None
    max_words: int | None = None
    one_word: bool = False
    yes_no: bool = False
    items: int | None = None  # a list of this many
    needs: tuple[str, ...] = ()  # words the answer must use
    question: str = ""

    @property
    def checked(self) -> bool:
        """Whether :meth:`check` has anything to check."""
        return self.yes_no or self.items is not None or bool(self.needs)

    def check(self, answer: str) -> bool:
        """Whether the whole answer keeps what cannot be cut into shape: it starts with
        yes or no, lists exactly ``items`` things, and uses each word in ``needs``."""
        found = [w.lower() for w in _WORD.findall(answer)]
        if self.yes_no and found[:1] not in (["yes"], ["no"]):
            return False
        if self.items is not None and count_items(answer) != self.items:
            return False
        return all(need.lower() in found for need in self.needs)

    def capped(self, sentences: int) -> Form:
        """This form with at most ``sentences`` sentences (0: as it is) unless it asks
        for a number of sentences, a list or one word itself."""
        if not sentences or self.sentences is not None or self.items or self.one_word:
            return self
        return replace(self, sentences=sentences)

    def hint(self) -> str:
        """The request, said plainly for the prompt ("" when there is none)."""
        asks = []
        if self.one_word:
            asks.append("Answer with one word only.")
        elif self.yes_no:
            asks.append("Start your answer with Yes or No.")
        if self.items:
            asks.append(f"Answer with a list of exactly {self.items} items, separated by commas.")
        if self.sentences == 1 and not self.one_word:
            asks.append("Answer in exactly one sentence.")
        elif self.sentences and self.sentences > 1:
            asks.append(f"Answer in at most {self.sentences} sentences.")
        if self.max_chars:
            asks.append(f"Use fewer than {self.max_chars} characters.")
        if self.max_words and not self.one_word:
            asks.append(f"Use at most {self.max_words} words.")
        asks += [f'Use the word "{need}".' for need in self.needs]
        return " ".join(asks)

    def schema(self) -> dict[str, Any] | None:
        """A JSON schema that holds the answer to this form while it is sampled, for a
        server with structured outputs: a list of exactly ``items`` short things, one
        word (Yes or No for a yes-or-no question), or one sentence that opens with Yes
        or No and uses the words asked for. None for a form the text itself can be cut
        to, and for a list longer than ``MAX_SHAPED_ITEMS`` (cut by the token limit, it
        would never parse)."""
        if self.one_word:
            pattern = "^(Yes|No)$" if self.yes_no else _ONE_WORD_PATTERN
            return {"type": "string", "pattern": pattern}
        if self.items and self.items <= MAX_SHAPED_ITEMS:
            item = {"type": "string", "pattern": _ITEM_PATTERN}
            return {"type": "array", "items": item, "minItems": self.items, "maxItems": self.items}
        return {"type": "string", "pattern": self._sentence()} if self.sentence else None

    def _sentence(self) -> str:
        """The pattern of one sentence: "Yes, ..." or "No, ..." for a yes-or-no question,
        each word asked for used whole and in order (a space or an opening bracket
        before it, a space, comma, semicolon, colon, closing bracket or the end after:
        "and,reset" and "2paper" are not words to a reader), all within the length asked for
        (bounded anyway: unbounded, the model wrote on without an end until max_tokens;
        within the length, cutting it to length cannot cut a word away)."""
        most = min(self.max_chars or 200, 6 * self.max_words if self.max_words else 200)
        gaps = len(self.needs) + 1
        room = max(0, most - sum(map(len, self.needs)) - 2 * gaps - 5 * self.yes_no) // gaps
        run, before, after = f"[^.!?]{{0,{room}}}", "[ (]", "[ ,;:)]"
        if not self.needs:
            return f"^(Yes|No)(, {run})?[.!?]$"
        opens = "(Yes|No), " if self.yes_no else ""
        lead, tail = f"({run}{before})?", f"({after}{run})?"
        uses = f"{after}({run}{before})?".join(map(_any_case, self.needs))
        return f"^{opens}{lead}{uses}{tail}[.!?]$"

    @property
    def sentence(self) -> bool:
        """Whether :meth:`schema` holds one sentence (a yes or no, or one that uses the
        words asked for), which is said as it is."""
        return (self.yes_no or bool(self.needs)) and not (self.items or self.one_word)

    @staticmethod
    def things(text: str) -> list[str] | None:
        """The listed things (or the one word) of an answer to :meth:`schema`; None for
        text that is not JSON (a server that ignored the schema: cut it to the form like
        any answer), [] for JSON cut short or holding nothing."""
        try:
            value = json.loads(text)
        except ValueError:
            return [] if text.lstrip()[:1] in ('"', "[") else None
        found = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        return [" ".join(str(v).split()) for v in found if str(v).strip()]

    def take(self, sentence: str, shown: list[str]) -> tuple[str | None, bool]:
        """What of ``sentence`` to show after ``shown`` (None: nothing more), and
        whether it is the last thing to show."""
        if self.one_word:
            return self.word(sentence), True
        chars = len(" ".join(s.strip() for s in [*shown, sentence]))
        count = len(" ".join([*shown, sentence]).split())
        long = (self.max_chars is not None and chars > self.max_chars) or (
            self.max_words is not None and count > self.max_words
        )
        if long:
            return (None, True) if shown else (self.shorten(sentence), True)
        if self.items and is_item(sentence) and sum(map(is_item, shown)) + 1 >= self.items:
            return sentence, True  # the last item asked for
        if self.items and not shown and count_items(sentence) >= self.items:
            return sentence, True  # the list, in one sentence
        last = self.sentences is not None and len(shown) + 1 >= self.sentences
        return sentence, last

    def word(self, sentence: str) -> str | None:
        """The answer's one word: the sentence itself if it is one word, else the first
        word that is neither common nor taken from the question, looking first after
        the last "is"/"are" ("The animal that barks is a dog.")."""
        found = _WORD.findall(sentence)
        if len(found) == 1:
            return found[0].capitalize() + "."
        asked = {w.lower() for w in _WORD.findall(self.question)}
        copula = [i for i, word in enumerate(found) if word.lower() in _COPULA]
        after = found[copula[-1] + 1 :] if copula else []
        for word in [*after, *found]:
            if word.lower() not in _COMMON and word.lower() not in asked and len(word) > 1:
                return word.capitalize() + "."
        return None

    def shorten(self, sentence: str) -> str | None:
        """The sentence within the length: up to its last clause break that fits, else
        its last word that fits, ending in "…"; None when not even a word fits."""
        text = " ".join(sentence.split())
        chars = (self.max_chars or len(text) + 1) - 1  # room for the "…"
        words = text.split()[: self.max_words or None]
        head = " ".join(words)
        while len(head) > chars and " " in head:
            head = head.rsplit(" ", 1)[0]
        if len(head) > chars:
            return None
        clauses = [m.start() for m in _CLAUSE.finditer(head)]
        if clauses and clauses[-1] >= len(head) // 2:
            head = head[: clauses[-1]]
        return head.rstrip(",;:—– ") + "…"


NONE = Form()


def _any_case(word: str) -> str:
    """``word`` as a pattern that takes it in any case ("[Pp][Aa][Pp][Ee][Rr]")."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


def prose(things: list[str]) -> str:
    """Things as a line of chat: "Apple, pear and kiwi.", "Green."."""
    body = things[0] if len(things) == 1 else f"{', '.join(things[:-1])} and {things[-1]}"
    return body[:1].upper() + body[1:] + "."


def is_item(text: str) -> bool:
    """Whether ``text`` is a bulleted or numbered list line ("- flour", "2. salt")."""
    return _BULLET.match(text.lstrip("\n")) is not None


def prose_list(text: str) -> str:
    """A bulleted or numbered list as one line of chat ("flour, water, salt."), where
    chat shows one line and " - flour - water" reads badly; a lead-in line before the
    items is kept. Any other text is returned as it is."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    head = lines[:1] if lines and not is_item(lines[0]) else []
    items = lines[len(head) :]
    if len(items) < 2 or not all(map(is_item, items)):
        return text
    body = ", ".join(_BULLET.sub("", line, count=1).rstrip(" .;,") for line in items)
    end = "" if body[-1:] in ("!", "?", "…") else "."
    return " ".join([*head, body + end])


def count_items(answer: str) -> int:
    """Things listed: bulleted or numbered lines if there are any, else the pieces of
    the answer's first sentence (after a lead-in ending in ":") between commas, "and"
    and "or"."""
    bullets = _BULLET.findall(answer)
    if bullets:
        return len(bullets)
    done, rest = split_sentences(answer.strip())
    first = next((part for part in [*done, rest] if _WORD.search(part)), "")
    return sum(1 for piece in _PIECES.split(first.rsplit(":", 1)[-1]) if _WORD.search(piece))


def parse(question: str) -> Form:
    """The form ``question`` asks for (``NONE`` when it asks for none)."""
    max_chars = max_words = None
    for m in _LIMIT.finditer(question):
        n = _number(m.group(1) or m.group(3))
        unit = (m.group(2) or m.group(4)).lower()
        if unit == "words":
            max_words = n
        else:
            max_chars = n
    one_word = bool(_ONE_WORD.search(question))
    listed = _LIST.search(question)
    several = _SENTENCES.search(question)
    sentences = _number(several.group(1)) if several else None
    form = Form(
        sentences=1 if one_word or _ONE_SENTENCE.search(question) else sentences,
        max_chars=max_chars,
        max_words=1 if one_word else max_words,
        one_word=one_word,
        yes_no=bool(_YES_NO.search(question)),
        items=_number(listed.group(1)) if listed and not one_word else None,
        needs=tuple(dict.fromkeys(m.group(1) for m in _NEEDS.finditer(question))),
        question=question,
    )
    return NONE if form == Form(question=question) else form
