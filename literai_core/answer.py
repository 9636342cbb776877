"""A chat answer streamed through the guard: the model's text is shown a sentence at a
time, each sentence only once the :class:`~literai_core.guard.Guard` has passed it. The
first bad sentence stops the model (its stream is closed); an answer with nothing left
is written again (the command's ``retries``), and only then replaced by a notice."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing

from .chat import Reply, ReplyKind
from .guard import Guard, split_sentences, words
from .inference import InferenceError
from .trim import trim_reply

Source = Callable[[int], AsyncIterator[str]]  # attempt number -> the model's text
NOTHING = "(I had nothing to add this time. Try again?)"


class Answer:
    def __init__(self, guard: Guard, source: Source, max_chars: int, retries: int) -> None:
        self.guard, self.source = guard, source
        self.max_chars, self.retries = max_chars, retries

    async def run(
        self, reply: Reply, lead: str = "", *, one_line: bool = False
    ) -> AsyncIterator[str]:
        """Relay the answer; ``lead`` (``!gpt2``'s own text) comes first and is not
        judged. A failed call ends in a polite line."""
        if lead:
            yield lead
        shown: list[str] = []
        try:
            for attempt in range(self.retries + 1):
                async for sentence in self._attempt(attempt, shown, one_line):
                    first = lead and len(shown) == 1
                    yield " " + sentence.lstrip() if first else sentence
                if shown:
                    break
        except InferenceError as exc:
            polite = f"Sorry, I can't answer right now: {exc}. Please try again in a minute."
            reply.finish(polite, ReplyKind.ERROR)
            yield ("\n" if lead or shown else "") + polite
            return
        said = trim_reply("".join(shown), self.max_chars)
        if said:
            reply.finish(f"{lead} {said}" if lead else said)
        else:
            reply.finish(NOTHING, ReplyKind.NOTICE)

    async def _attempt(self, attempt: int, shown: list[str], one_line: bool) -> AsyncIterator[str]:
        """One model call: yield each sentence that passes, appending it to ``shown``;
        stop at the first that does not, at the first line end (``one_line``), or once
        there is enough."""
        body = ""
        checked = 0
        async with aclosing(self.source(attempt)) as pieces:  # type: ignore[type-var]
            async for piece in pieces:
                body += piece
                stop = False
                if one_line and "\n" in body.lstrip():
                    lead_space = len(body) - len(body.lstrip())
                    body = body[: body.index("\n", lead_space)]
                    stop = True
                done, _ = split_sentences(body, final=stop)
                for sentence in done[checked:]:
                    checked += 1
                    if not self._passes(sentence, shown):
                        return  # closing the stream stops the model
                    shown.append(sentence)
                    yield sentence
                if stop or len(body) > 2 * self.max_chars:
                    break
        done, rest = split_sentences(body)
        for sentence in done[checked:]:  # the last one, now that nothing follows
            if not self._passes(sentence, shown):
                return
            shown.append(sentence)
            yield sentence
        # An answer that never ended a sentence (EOS after a phrase, a one-line !gpt2):
        # the phrase itself, if it passes; after whole sentences, a fragment is dropped.
        if not shown and words(rest) and self.guard.verdict(rest, shown) is None:
            shown.append(rest)
            yield rest

    def _passes(self, sentence: str, shown: list[str]) -> bool:
        """Within the length (never show what would be cut) and past the guard."""
        if sum(map(len, shown)) + len(sentence.strip()) > self.max_chars:
            return False
        return self.guard.verdict(sentence, shown) is None
