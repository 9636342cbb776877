"""Answer-quality scores for the benchmark, computed from text alone (no model judge).

Each function states its rule precisely, so the README can quote it. They are written here,
from those definitions, on purpose: the product's own guards (literai_core) decide what the
bot posts, and a benchmark that scored them with their own code would only measure that the
code agrees with itself. Stdlib only; everything is deterministic and fast.

Words: ``words`` lowercases and keeps runs of letters/digits, with apostrophes allowed
inside a word (curly ones count as straight); everything else separates words. Most rules
below work on these words, so case and punctuation never matter to them.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_ENDS = ".!?…;。！？"
_CLOSERS = "\"'”’»)]}*_~`>"
_SKIP_CATEGORIES = {"So", "Sk", "Mn", "Me", "Cf", "Cs", "Co"}  # emoji and their modifiers
_ROLES = ("user", "assistant", "system", "human", "ai", "bot", "viewer", "chat")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?…。！？])\s+|\n+")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+\S", re.MULTILINE)
_MARK = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen twenty"
).split()
_NUMBER_WORDS = {word: str(i) for i, word in enumerate(_NUMBERS)}
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because
    been before being below between both but by can can't cannot could couldn't did didn't do
    does doesn't doing don't down during each either else even ever every few for from further
    get gets got had hadn't has hasn't have haven't having he he'd he'll he's her here here's
    hers herself him himself his how how's however i i'd i'll i'm i've if in into is isn't it
    it's its itself just let's like made make many may me might more most much must mustn't my
    myself neither no nor not now of off often on once one only or other ought our ours
    ourselves out over own really said same say says she she'd she'll she's should shouldn't
    since so some still such than that that's the their theirs them themselves then there
    there's these they they'd they'll they're they've this those though through thus to too
    under until up upon us very was wasn't way we we'd we'll we're we've well were weren't what
    what's when when's where where's whether which while who who's whom whose why why's will
    with within without won't would wouldn't yes yet you you'd you'll you're you've your yours
    yourself yourselves""".split()
)


def words(text: str) -> list[str]:
    """Lowercase word tokens: runs of letters/digits (any script), with apostrophes inside a
    word kept ("don't", "pixel's"); curly apostrophes count as straight ones."""
    return _WORD.findall(text.replace("’", "'").lower())


def ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    """Every run of ``n`` consecutive tokens, in order (empty when there are fewer than n)."""
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def self_repeat4(text: str) -> float:
    """Share of the text's word 4-grams that already occurred earlier in the same text
    (a 4-gram seen k times contributes k - 1 repeats); 0.0 with fewer than 2 four-grams."""
    grams = ngrams(words(text), 4)
    if len(grams) < 2:
        return 0.0
    seen: set[tuple[str, ...]] = set()
    repeats = 0
    for gram in grams:
        repeats += gram in seen
        seen.add(gram)
    return repeats / len(grams)


def repeat4_against(text: str, earlier: str) -> float:
    """Share of ``text``'s word 4-grams (counted with repeats) that occur among ``earlier``'s
    word 4-grams; 0.0 when ``text`` has no 4-gram."""
    grams = ngrams(words(text), 4)
    if not grams:
        return 0.0
    before = set(ngrams(words(earlier), 4))
    return sum(gram in before for gram in grams) / len(grams)


def _strip_closers(text: str) -> str:
    """``text`` without trailing whitespace, closing quotes/brackets, markdown marks
    (* _ ~ ` >) and emoji (Unicode symbol/modifier/format characters)."""
    end = len(text)
    while end and (
        text[end - 1].isspace()
        or text[end - 1] in _CLOSERS
        or unicodedata.category(text[end - 1]) in _SKIP_CATEGORIES
    ):
        end -= 1
    return text[:end]


def unfinished(text: str) -> bool:
    """True when the text does not end a sentence: after stripping trailing whitespace,
    closing quotes/brackets, markdown marks (* _ ~ ` >) and emoji, the last character is not
    one of . ! ? … ; (or the full-width 。！？). Empty (or all-stripped) text is unfinished."""
    rest = _strip_closers(text)
    return not rest or rest[-1] not in _ENDS


def cut_mid_word(text: str) -> bool:
    """Heuristic for a reply cut off mid-word (e.g. by the token limit): the text is
    ``unfinished`` AND its last whitespace-separated token is a bare letter run (letters, with
    apostrophes or hyphens inside) — no punctuation, digits or emoji after it. Without a
    dictionary "the ma" and "the mat" look alike, so any sentence that stops on a bare word
    counts; one that stops on a comma, a colon, a number or an emoji does not."""
    tokens = text.split()
    if not tokens or not unfinished(text):
        return False
    return re.fullmatch(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", tokens[-1]) is not None


def labels(reply: str, names: Sequence[str]) -> list[str]:
    """Speaker labels in the reply: at the start of a line or of a sentence (after . ! ? or
    … and whitespace), optionally behind markdown/list marks (* _ > - @), one of ``names`` or a
    role word (User Assistant System Human AI Bot Viewer Chat), case-insensitive, followed by
    ":" (one optional space or "*" between). Returns each occurrence as written, in order."""
    choices = sorted({*(n.strip() for n in names if n.strip()), *_ROLES}, key=len, reverse=True)
    alternatives = "|".join(re.escape(choice) for choice in choices)
    pattern = rf"(?:^|[.!?…]\s+)[\s*_>@-]*({alternatives})[ *]?:(?!//)"
    return re.findall(pattern, reply, flags=re.IGNORECASE | re.MULTILINE)


def _joined(tokens: list[str]) -> str:
    return " " + " ".join(tokens) + " "


def transcript_echo(reply: str, transcript: Sequence[str]) -> bool:
    """True when the reply repeats chat: (a) a transcript line of >= 4 words appears in the
    reply as a whole-word sequence (after ``words`` normalization); (b) a line of 2-3 words
    equals a whole line of the reply (normalized), so a common phrase ("good luck") inside a
    sentence does not count; or (c) the reply has >= 4 words and >= 50% of its 4-grams
    (counted with repeats) occur among the transcript lines' 4-grams (each line on its own)."""
    reply_words = words(reply)
    whole = _joined(reply_words)
    reply_lines = {" ".join(words(line)) for line in reply.splitlines()}
    chat_grams: set[tuple[str, ...]] = set()
    for line in transcript:
        tokens = words(line)
        if len(tokens) >= 4 and _joined(tokens) in whole:
            return True
        if 2 <= len(tokens) < 4 and " ".join(tokens) in reply_lines:
            return True
        chat_grams.update(ngrams(tokens, 4))
    grams = ngrams(reply_words, 4)
    return bool(grams) and sum(g in chat_grams for g in grams) / len(grams) >= 0.5


def instruction_echo(text: str, instructions: Sequence[str]) -> bool:
    """True when ``text`` contains a run of >= 5 consecutive words (``words`` normalization)
    of any of the instructions (a system prompt, a persona, a task line)."""
    grams = set(ngrams(words(text), 5))
    return any(grams.intersection(ngrams(words(line), 5)) for line in instructions)


def echo(
    reply: str,
    *,
    transcript: Sequence[str],
    persona: str = "",
    names: Sequence[str] = (),
    instructions: Sequence[str] = (),
) -> list[str]:
    """Why the reply echoes its prompt, in this order: "transcript" (``transcript_echo``),
    "label" (``labels`` finds one, with ``names``), "persona" (``instruction_echo`` against the
    persona), "instruction" (``instruction_echo`` against ``instructions``); [] when clean."""
    reasons = []
    if transcript_echo(reply, transcript):
        reasons.append("transcript")
    if labels(reply, names):
        reasons.append("label")
    if persona and instruction_echo(reply, [persona]):
        reasons.append("persona")
    if instruction_echo(reply, instructions):
        reasons.append("instruction")
    return reasons


def _sentences(text: str) -> list[str]:
    """Pieces of text split after . ! ? … (full-width too) + whitespace, and at newlines;
    pieces without a word are dropped."""
    return [part.strip() for part in _SENTENCE_SPLIT.split(text) if words(part)]


def _repeats(text: str) -> bool:
    tokens = words(text)
    trigrams = Counter(ngrams(tokens, 3)).most_common(1)
    if self_repeat4(text) > 0.2 or (trigrams and trigrams[0][1] >= 3):
        return True
    said = [" ".join(words(s)) for s in _sentences(text) if len(words(s)) >= 3]
    return len(said) != len(set(said))


def degenerate(reply: str) -> list[str]:
    """Why the reply is degenerate: "empty" (no words; then nothing else is checked), else
    "repeat" (``self_repeat4`` > 0.2, or one word 3-gram occurring >= 3 times, or the same
    sentence of >= 3 words twice, compared after ``words`` normalization), and "cut"
    (``cut_mid_word``); [] when clean. Sentences of 1-2 words ("Thank you.") may repeat."""
    if not words(reply):
        return ["empty"]
    reasons = []
    if _repeats(reply):
        reasons.append("repeat")
    if cut_mid_word(reply):
        reasons.append("cut")
    return reasons


def _canon(text: str) -> list[str]:
    """Words for matching: accents dropped (NFKD), possessive 's dropped, number words
    zero..twenty turned into digits."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    tokens = [w.removesuffix("'s") for w in words(plain)]
    return [_NUMBER_WORDS.get(w, w) for w in tokens]


def phrase_in(phrase: str, text: str) -> bool:
    """True when ``phrase`` occurs in ``text`` as a whole-word sequence, ignoring case,
    punctuation, accents and a possessive 's, with 0-20 matching as digits or words
    ("3" ~ "three"). A phrase with no words never matches."""
    tokens = _canon(phrase)
    return bool(tokens) and _joined(tokens) in _joined(_canon(text))


def fact_hit(reply: str, accepted: Sequence[str]) -> bool:
    """True when any accepted answer occurs in the reply (``phrase_in``: whole words, case,
    punctuation and accents ignored, numbers 0-20 as digits or words)."""
    return any(phrase_in(answer, reply) for answer in accepted)


def list_items(reply: str) -> int:
    """Items in a list answer: the number of ``list_pieces``."""
    return len(list_pieces(reply))


def list_pieces(reply: str) -> list[str]:
    """The items of a list answer, as their ``words`` joined by spaces. If any line starts
    with a bullet (-, *, •) or a number ("1." or "1)") followed by a space, those lines.
    Otherwise, when the reply is exactly one sentence: that sentence, minus a lead-in up to
    its last colon, split at commas, semicolons, "&" and the word "and" — the pieces with a
    word. Otherwise none."""
    lines = [line for line in reply.splitlines() if _BULLET.match(line)]
    if lines:
        return [" ".join(words(_MARK.sub("", line, count=1))) for line in lines]
    sentences = _sentences(reply)
    if len(sentences) != 1:
        return []
    body = sentences[0].rsplit(":", 1)[-1]
    pieces = re.split(r"[,;&]|\band\b", body, flags=re.IGNORECASE)
    return [" ".join(words(piece)) for piece in pieces if words(piece)]


def _list_of(reply: str, n: int) -> bool:
    """A list of exactly ``n`` different things ("fantasy, fantasy and fantasy" is one)."""
    pieces = list_pieces(reply)
    return len(pieces) == n and len(set(pieces)) == n


def format_ok(reply: str, fmt: dict[str, object]) -> bool:
    """True when every constraint in ``fmt`` holds (unknown keys fail; boolean keys set to
    False impose nothing): "max_chars" (len of the stripped reply <= N), "max_words"
    (``words`` count <= N), "one_sentence" (``_sentences`` finds exactly one), "list_of"
    (``list_pieces`` finds N, all different), "one_word" (one whitespace-separated token,
    and it has a word), "yes_no" (the first word is yes or no), "must_include" (each phrase
    ``phrase_in`` it)."""
    checks = {
        "max_chars": lambda n: len(reply.strip()) <= n,
        "max_words": lambda n: len(words(reply)) <= n,
        "one_sentence": lambda on: not on or len(_sentences(reply)) == 1,
        "list_of": lambda n: _list_of(reply, n),
        "one_word": lambda on: not on or (len(reply.split()) == 1 and bool(words(reply))),
        "yes_no": lambda on: not on or words(reply)[:1] in (["yes"], ["no"]),
        "must_include": lambda need: all(phrase_in(p, reply) for p in need),
    }
    return all(key in checks and checks[key](value) for key, value in fmt.items())


def content_words(text: str) -> list[str]:
    """``words`` minus the English STOPWORDS list and minus tokens of 1-2 characters."""
    return [w for w in words(text) if len(w) > 2 and w not in STOPWORDS]


def stem(word: str) -> str:
    """Crude stem: lowercase, possessive 's and apostrophes dropped, then the first of the
    suffixes ing, ed, es, s that the word ends with and whose removal leaves >= 3 letters."""
    word = word.lower().removesuffix("'s").replace("'", "")
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def faithfulness(summary: str, source: str) -> float:
    """Share of the summary's content words (``content_words``, counted with repeats) whose
    ``stem`` is among the stems of the source's content words; 0.0 for a summary without
    content words. Low values mean the summary brings in words the source never had."""
    mine = [stem(w) for w in content_words(summary)]
    if not mine:
        return 0.0
    theirs = {stem(w) for w in content_words(source)}
    return sum(w in theirs for w in mine) / len(mine)


def coverage(text: str, facts: Sequence[Sequence[str]]) -> float:
    """Share of key facts the text contains; a fact is a list of alternative phrasings and is
    hit when ``fact_hit`` finds any of them. 0.0 when there are no facts."""
    if not facts:
        return 0.0
    return sum(fact_hit(text, fact) for fact in facts) / len(facts)


def speaker_lines(script: Sequence[tuple[str, str]], hosts: tuple[str, str]) -> dict[str, object]:
    """Checks on a two-host script of (speaker, text) lines; speakers compare case-insensitively
    after stripping. "both_speak": each host has >= 2 lines; "bad_speakers": lines whose speaker
    is not a host; "label_in_text": lines whose text itself contains a host's label ("Name:" with
    an optional space before the colon, anywhere, case-insensitive, not inside a longer word)."""
    keys = [host.strip().casefold() for host in hosts]
    said = Counter(speaker.strip().casefold() for speaker, _ in script)
    alternatives = "|".join(re.escape(host.strip()) for host in hosts)
    label = re.compile(rf"(?<![\w])(?:{alternatives}) ?:", re.IGNORECASE)
    return {
        "both_speak": all(said[key] >= 2 for key in keys),
        "bad_speakers": sum(n for speaker, n in said.items() if speaker not in keys),
        "label_in_text": sum(1 for _, text in script if label.search(text)),
    }


def word_error_rate(reference: str, heard: str) -> float:
    """Word error rate: word edit distance over the reference's words (lowercased,
    punctuation dropped), for speech to text."""
    ref, hyp = (re.findall(r"[a-z0-9']+", t.lower()) for t in (reference, heard))
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(1, len(ref))
