"""A scripted fake of the ``Inference`` port (literai_core/inference.py): it replays
queued answers in order and records what it was asked. Speech and pictures are real
media (a WAV tone, a PNG), made from what was asked."""

from __future__ import annotations

import asyncio
import copy
import random
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass

from literai_core.inference import Generation

from .media import picture, spoken

# One scripted answer: an exception raised before any text, or a sequence of text
# pieces in which an exception, where it appears, is raised after the pieces before it,
# and an event, where it appears, is waited for (a model still writing).
Answer = BaseException | Sequence[str | BaseException | asyncio.Event]

# The answer to queue for a speech or image call that succeeds: the fake makes the
# bytes itself (``media.spoken(text)``, ``media.picture(prompt, size)``).
MADE: Answer = ("made",)

UNREACHABLE = "the model server is unreachable"


@dataclass
class Call:
    """What the model was asked, and how much of the answer the caller read."""

    kind: str  # "chat", "completion", "speech" or "image"
    gen: Generation
    user: str | None
    messages: list[dict[str, str]] | None = None
    prompt: str | None = None  # a completion's prompt, the text spoken, the picture asked
    pulled: int = 0  # text pieces handed out
    closed: bool = False  # the caller closed the stream (or it ran out)


class ScriptedInference:
    """A fake ``Inference``: replays queued answers in order and records each call.

    Like a real streaming client, a call is made (and recorded) when its stream is first
    read, not when the async generator is created.
    """

    def __init__(self, *answers: Answer) -> None:
        self.answers: deque[Answer] = deque(answers)
        self.calls: list[Call] = []
        self.served = ["smollm2"]  # what models() lists

    async def models(self) -> list[str]:
        return list(self.served)

    def queue(self, *answers: Answer) -> None:
        self.answers.extend(answers)

    async def stream_chat(
        self, messages: list[dict[str, str]], gen: Generation, *, user: str | None = None
    ) -> AsyncIterator[str]:
        call = Call("chat", gen, user, messages=copy.deepcopy(messages))
        async with aclosing(self._replay(call)) as pieces:
            async for piece in pieces:
                yield piece

    async def stream_completion(
        self, prompt: str, gen: Generation, *, user: str | None = None
    ) -> AsyncIterator[str]:
        call = Call("completion", gen, user, prompt=prompt)
        async with aclosing(self._replay(call)) as pieces:
            async for piece in pieces:
                yield piece

    async def speech(self, text: str, *, voice: str, model: str) -> bytes:
        """A WAV tone of 0.1 s a word, or the queued answer's exception."""
        self._media(Call("speech", Generation(max_tokens=0), None, prompt=text))
        return spoken(text)

    async def image(self, prompt: str, *, size: str) -> bytes:
        """A PNG of ``size`` coloured by the prompt, or the queued answer's exception."""
        self._media(Call("image", Generation(max_tokens=0), None, prompt=prompt))
        return picture(prompt, size)

    async def transcribe(self, audio: bytes, *, model: str, prompt: str | None = None) -> str:
        """The queued answer's text, as if it had been heard (or its exception)."""
        heard = self._media(Call("transcribe", Generation(max_tokens=0), None, prompt=prompt))
        return "".join(str(a) for a in heard)

    def _media(self, call: Call) -> Sequence[str | BaseException]:
        """The call, recorded, and its queued answer (its exception raised)."""
        self.calls.append(call)
        if not self.answers:
            raise AssertionError(f"unexpected {call.kind} call: {call.prompt!r}")
        answer = self.answers.popleft()
        if isinstance(answer, BaseException):
            raise answer
        failure = next((a for a in answer if isinstance(a, BaseException)), None)
        if failure is not None:
            raise failure
        return answer

    async def _replay(self, call: Call) -> AsyncGenerator[str, None]:
        self.calls.append(call)
        if not self.answers:
            raise AssertionError(f"unexpected model call: {call}")
        answer = self.answers.popleft()
        try:
            if isinstance(answer, BaseException):
                raise answer
            for item in answer:
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, asyncio.Event):
                    await item.wait()
                    continue
                call.pulled += 1
                yield item
        finally:
            call.closed = True


_NOUNS = (
    "teletype tape printer bell keyboard carriage ribbon paper signal wire station operator "
    "message office night morning engineer clerk lamp motor gear spring relay line river "
    "city train harbor window storm letter code switch cable tower valley"
).split()
_VERBS = (
    "prints carries rings waits hums clatters sends keeps answers turns follows watches "
    "checks lifts crosses reaches holds finds writes reads"
).split()
_ADJS = "old quiet bright careful slow distant yellow heavy narrow patient warm".split()


def prose(sentences: int, seed: int = 0) -> str:
    """Varied text that does not repeat itself: long answers for tests of splitting and
    pacing (a repeated sentence is cut by the guard, as it should be)."""
    rng = random.Random(seed)
    out = []
    for _ in range(sentences):
        a, b = rng.sample(_NOUNS, 2)
        words = [
            "The", rng.choice(_ADJS), a, rng.choice(_VERBS), "the", rng.choice(_ADJS), b,
            "near", "the", rng.choice(_NOUNS), str(rng.randrange(1000)),
        ]  # fmt: skip
        out.append(" ".join(words) + ".")
    return " ".join(out) + " "
