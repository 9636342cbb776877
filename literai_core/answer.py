"""A chat answer streamed through the guard: the model's text is shown a sentence at a
time, each sentence only once the :class:`~literai_core.guard.Guard` has passed it. The
first bad sentence stops the model (its stream is closed); an answer with nothing left
is written again (the command's ``retries``), and only then replaced by a notice. The
retries are written together (:meth:`Answer._race`): the first whose first sentence
passes is shown and the others are stopped, so an answer needing its third try takes
two rounds, not three (``bench/soak.py``: the retried answers were the latency tail). The
shape the asker requested (:mod:`~literai_core.form`) is kept sentence by sentence; where
it is checked on the whole answer (yes or no, a list of N, a word to use), the answer is
held back until it is complete, so that one that misses is never half shown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing

from .chat import Reply, ReplyKind
from .form import NONE, Form, is_item, prose_list
from .guard import SELF_REPEAT, Guard, self_repeat, split_sentences, words
from .inference import InferenceError
from .trim import trim_reply

Source = Callable[[int], AsyncIterator[str]]  # attempt number -> the model's text
Enough = Callable[[int], bool]  # sentences shown so far -> stop there (asked as they pass)
# Named: two viewers' empty answers are two notices, and a platform's outbox, which says
# one text once while it waits, must not drop the second asker's.
NOTHING = "(I had nothing to add this time, {user}. Try again?)"


class Answer:
    def __init__(
        self,
        guard: Guard,
        source: Source,
        max_chars: int,
        retries: int,
        form: Form = NONE,
        enough: Enough | None = None,
        *,
        together: bool = True,
    ) -> None:
        self.guard, self.source, self.form = guard, source, form
        self.max_chars, self.retries = max_chars, retries
        self.together = together  # the retries at once (False: one after another)
        # Asked after each sentence shown, not once at the start: a channel that got
        # busy while this answer was being written stops it at the next sentence end.
        self.enough = enough or (lambda shown: False)

    async def run(
        self, reply: Reply, lead: str = "", *, one_line: bool = False
    ) -> AsyncIterator[str]:
        """Relay the answer; ``lead`` (``!gpt2``'s own text) comes first and is not
        judged. A failed call ends in a polite line."""
        if lead:
            yield lead
        shown: list[str] = []
        try:
            if self.form.checked:  # an !ask form, checked on the whole answer: no lead
                shown = await self._held(one_line)
                for sentence in shown:
                    yield sentence
            else:
                async with aclosing(self._tries(shown, one_line)) as tries:  # type: ignore[type-var]
                    async for sentence in tries:
                        first = lead and len(shown) == 1
                        yield " " + sentence.lstrip() if first else sentence
        except InferenceError as exc:
            polite = f"Sorry, I can't answer right now: {exc}. Please try again in a minute."
            reply.finish(polite, ReplyKind.ERROR)
            yield ("\n" if lead or shown else "") + polite
            return
        said = trim_reply(prose_list("".join(shown)), self.max_chars)
        if said:
            reply.finish(f"{lead} {said}" if lead else said)
        else:
            reply.finish(NOTHING.format(user=reply.line.user), ReplyKind.NOTICE)

    async def _tries(self, shown: list[str], one_line: bool) -> AsyncIterator[str]:
        """The first try's sentences; if it showed nothing, the retries'."""
        async for sentence in self._attempt(0, shown, one_line):
            yield sentence
        retries = range(1, self.retries + 1)
        if shown or not retries:
            return
        if not self.together:
            for attempt in retries:
                async for sentence in self._attempt(attempt, shown, one_line):
                    yield sentence
                if shown:
                    return
            return
        async for sentence in self._race(retries, shown, one_line):
            yield sentence

    async def _race(self, attempts: range, shown: list[str], one_line: bool) -> AsyncIterator[str]:
        """``attempts`` written at once: the first to pass a sentence is shown (its
        sentences appended to ``shown``) and the others are stopped. A failed call
        counts only when every attempt failed (the first failure is raised)."""
        said: asyncio.Queue[tuple[int, str | None]] = asyncio.Queue()
        failed: list[InferenceError] = []

        async def attempt(number: int) -> None:
            own: list[str] = []
            try:
                async for sentence in self._attempt(number, own, one_line):
                    said.put_nowait((number, sentence))
            except InferenceError as exc:
                failed.append(exc)
            finally:
                said.put_nowait((number, None))

        tasks = {n: asyncio.create_task(attempt(n)) for n in attempts}
        winner, running = None, set(attempts)
        try:
            while running:
                number, sentence = await said.get()
                if sentence is None:
                    running.discard(number)
                    if number == winner:
                        return
                elif winner is None or number == winner:
                    if winner is None:
                        winner = number
                        for other, task in tasks.items():
                            if other != number:
                                task.cancel()  # closes its stream: the model stops
                    shown.append(sentence)
                    yield sentence
            if failed and winner is None:
                raise failed[0]
        finally:
            for task in tasks.values():
                task.cancel()
            # (gather, not awaiting each under suppress(CancelledError), which would
            # swallow this task's own cancellation too)
            ended = await asyncio.gather(*tasks.values(), return_exceptions=True)
            bugs = [e for e in ended if isinstance(e, Exception)]  # not CancelledError
            if bugs:
                raise bugs[0]

    async def _held(self, one_line: bool) -> list[str]:
        """The first whole answer that passes :meth:`Form.check`, else the first with
        anything in it."""
        first: list[str] = []
        for attempt in range(self.retries + 1):
            said: list[str] = []
            async for _ in self._attempt(attempt, said, one_line):
                pass
            if said and self.form.check("".join(said)):
                return said
            first = first or said
        return first

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
                    said, last = self._take(sentence, shown)
                    if said is not None:
                        shown.append(said)
                        yield said
                    if last or self.enough(len(shown)):
                        return  # closing the stream stops the model
                if stop or len(body) > 2 * self.max_chars:
                    break
        done, rest = split_sentences(body)
        for sentence in done[checked:]:  # the last one, now that nothing follows
            said, last = self._take(sentence, shown)
            if said is not None:
                shown.append(said)
                yield said
            if last or self.enough(len(shown)):
                return
        # An answer that never ended a sentence (EOS after a phrase, a one-line !gpt2):
        # the phrase itself, if it passes; after whole sentences, a fragment is dropped,
        # but for the last item of a list, which needs no end mark.
        if not shown and words(rest):
            said, _ = self._take(rest, shown, whole=False)  # trim_reply shortens it
        elif words(rest) and is_item(rest) and is_item(shown[-1]):
            said, _ = self._take(rest, shown)
        else:
            return
        if said is not None:
            shown.append(said)
            yield said

    def _take(
        self, sentence: str, shown: list[str], *, whole: bool = True
    ) -> tuple[str | None, bool]:
        """What of ``sentence`` to show (None: nothing) and whether it is the last:
        past the guard, in the form asked for, and a ``whole`` sentence only within the
        length (never show what would be cut)."""
        if self.guard.verdict(sentence, shown) is not None:
            return None, True
        if shown and self_repeat(words("".join([*shown, sentence]))) > SELF_REPEAT:
            return None, True  # each sentence new, the answer as a whole going round
        said, last = self.form.take(sentence, shown)
        if said is None:
            return None, True
        if whole and sum(map(len, shown)) + len(said.strip()) > self.max_chars:
            return None, True
        return said, last
