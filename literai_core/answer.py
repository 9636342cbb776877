"""A chat answer streamed through the guard: the model's text is shown a sentence at a
time, each sentence only once the :class:`~literai_core.guard.Guard` has passed it. The
first bad sentence stops the model (its stream is closed); an answer with nothing left
is written again (the command's ``retries``), and only then replaced by a notice. The
retries are written together (:meth:`Answer._race`; a held answer's in
:meth:`Answer._held`): the first whose first sentence passes (the first whole answer
that passes, for a held one) is shown and the others are stopped, so an answer
needing its third try takes two rounds, not three (``bench/soak.py``: the retried
answers were the latency tail). The
shape the asker requested (:mod:`~literai_core.form`) is kept sentence by sentence; where
it is checked on the whole answer (yes or no, a list of N, a word to use), the answer is
held back until it is complete, so that one that misses is never half shown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import aclosing
from typing import Any, TypeVar

from .chat import Reply, ReplyKind
from .form import NONE, Form, is_item, prose_list
from .guard import SELF_REPEAT, Guard, self_repeat, split_sentences, words
from .inference import InferenceError
from .trim import trim_reply

log = logging.getLogger(__name__)
Step = TypeVar("Step", bound="asyncio.Future[Any]")  # an attempt in flight

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
        together: bool | Callable[[], bool] = True,
    ) -> None:
        self.guard, self.source, self.form = guard, source, form
        self.max_chars, self.retries = max_chars, retries
        # The retries at once (False: one after another); asked when they start (a busy
        # channel's answers retry one at a time, leaving the batch to those waiting).
        self.together = together if callable(together) else (lambda: together)
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
        for attempt in range(self.retries + 1):
            if attempt and self.together():  # the rest at once
                raced = self._race(range(attempt, self.retries + 1), shown, one_line)
                async with aclosing(raced) as said:  # type: ignore[type-var]
                    async for sentence in said:
                        yield sentence
                return
            one = self._attempt(attempt, shown, one_line)
            async with aclosing(one) as said:  # type: ignore[type-var]
                async for sentence in said:
                    yield sentence
            if shown:
                return

    async def _race(self, attempts: range, shown: list[str], one_line: bool) -> AsyncIterator[str]:
        """``attempts`` written at once: the first to pass a sentence wins, the others
        are stopped (their streams closed), and the winner is read on, at the reader's
        pace (sentences appended to ``shown``). A failure of the winner is raised like
        any; the others' only when none won (a bug first), else a bug is logged."""
        tries = {n: self._attempt(n, [], one_line) for n in attempts}
        pending = {n: asyncio.ensure_future(anext(tries[n])) for n in attempts}
        failed: list[Exception] = []  # failed calls, and bugs (raised first)
        won: tuple[int, str] | None = None
        try:
            while pending and won is None:
                number, step = await _next_done(pending)
                try:
                    won = (number, step.result())
                except StopAsyncIteration:  # nothing passed
                    pass
                except InferenceError as exc:
                    failed.append(exc)
                except Exception as exc:
                    failed.insert(0, exc)
            if won is None:
                if failed:
                    raise failed[0]
                return
            for bug in failed:
                if not isinstance(bug, InferenceError):
                    log.error("a retry that lost failed", exc_info=bug)
            number, sentence = won
            await _settle(pending.values(), [t for n, t in tries.items() if n != number])
            shown.append(sentence)
            yield sentence
            async for sentence in tries[number]:
                shown.append(sentence)
                yield sentence
        finally:
            await _settle(pending.values(), tries.values())

    async def _held(self, one_line: bool) -> list[str]:
        """The first whole answer that passes :meth:`Form.check` (the retries written at
        once where ``together``: the first of them to pass), else the first with
        anything in it."""
        first = await self._whole(0, one_line)
        if self._passes(first) or not self.retries:
            return first
        if not self.together():
            for attempt in range(1, self.retries + 1):
                said = await self._whole(attempt, one_line)
                if self._passes(said):
                    return said
                first = first or said
            return first
        retries = range(1, self.retries + 1)
        pending = {n: asyncio.ensure_future(self._whole(n, one_line)) for n in retries}
        failed: list[InferenceError] = []
        try:
            while pending:
                _, done = await _next_done(pending)
                try:
                    said = done.result()  # a bug is raised here, and not logged again
                except InferenceError as exc:
                    failed.append(exc)
                    continue
                if self._passes(said):
                    return said
                first = first or said
        finally:
            await _settle(pending.values())
        if failed and not first:
            raise failed[0]
        return first

    def _passes(self, said: list[str]) -> bool:
        return bool(said) and self.form.check("".join(said))

    async def _whole(self, attempt: int, one_line: bool) -> list[str]:
        said: list[str] = []
        async for _ in self._attempt(attempt, said, one_line):
            pass
        return said

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
                done, rest = split_sentences(body, final=stop)
                for sentence in done[checked:]:
                    checked += 1
                    said, last = self._take(sentence, shown)
                    if said is not None:
                        shown.append(said)
                        yield said
                    if last or self.enough(len(shown)):
                        return  # closing the stream stops the model
                if not stop and self.guard.hopeless(rest):
                    return  # it would be refused at its end: stop it now
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


async def _next_done(pending: dict[int, Step]) -> tuple[int, Step]:
    """An attempt of ``pending`` that has finished (the lowest numbered of those that
    have), taken out of it; the others stay, to be waited for or stopped."""
    await asyncio.wait(pending.values(), return_when=asyncio.FIRST_COMPLETED)
    number = next(n for n, step in pending.items() if step.done())
    return number, pending.pop(number)


async def _settle(
    steps: Iterable[asyncio.Future[Any]], tries: Iterable[AsyncIterator[str]] = ()
) -> None:
    """Stop the attempts still running: cancel their steps in flight, then close them
    (closing a stream stops the model). A bug met on the way is logged, not raised: it
    must not take the place of the answer or of the caller's own cancellation."""
    steps = list(steps)
    for step in steps:
        step.cancel()
    ended = await asyncio.gather(*steps, return_exceptions=True)
    for attempt in tries:
        try:
            await attempt.aclose()  # type: ignore[attr-defined]
        except Exception as exc:
            ended.append(exc)
    for bug in ended:
        if isinstance(bug, Exception) and not isinstance(bug, (InferenceError, StopAsyncIteration)):
            log.error("a retry that lost failed", exc_info=bug)
