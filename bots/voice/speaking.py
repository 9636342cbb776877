"""A voice turn's way out: the answer's text as it grows and each sentence spoken, sent
to the page once the turn may show itself (``Session`` is a ``Speaker``)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import struct
import wave
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from aiohttp import web

from literai_core.chat import Reply, ReplyKind
from literai_core.guard import split_sentences
from literai_core.inference import InferenceError

from .turn import Turn, queue_sentence
from .vad import RATE

if TYPE_CHECKING:
    from .page import Voice

WORDS = re.compile(r"\w")  # text with a word in it (to hear or to speak)


def wav_of(samples: np.ndarray) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.astype("<i2").tobytes())
    return out.getvalue()


def _seconds(wav: bytes) -> float:
    try:
        with wave.open(io.BytesIO(wav)) as w:
            return w.getnframes() / w.getframerate()
    except (wave.Error, EOFError):
        return 0.0


class Speaker:
    voice: Voice
    ws: web.WebSocketResponse
    clock: Callable[[], float]
    playing_turn: int
    playing_until: float
    send: Callable[[dict[str, Any]], Awaitable[None]]

    async def _stream(self, turn: Turn, reply: Reply, sentences: asyncio.Queue[str | None]) -> None:
        """The answer's text to the page as it grows (once the turn shows); its
        sentences to the speaker (only an answer is spoken; a notice or refusal is
        shown)."""
        rest, queued = "", 0
        spoken = reply.kind is ReplyKind.ANSWER
        async for piece in reply.deltas():
            turn.written += piece
            if turn.showing():
                await self._show_text(turn)
            whole, rest = split_sentences(rest + piece, final=False)
            for sentence in whole if spoken else ():
                queued = await queue_sentence(sentences, sentence, queued)
        if spoken and reply.kind is ReplyKind.ANSWER:
            whole, rest = split_sentences(rest, final=True)
            for sentence in [*whole, rest]:
                queued = await queue_sentence(sentences, sentence, queued)
        await sentences.put(None)
        assert turn.shown is not None
        await turn.shown
        await self._show_text(turn)

    async def _show_text(self, turn: Turn) -> None:
        """The answer's text as written so far, if the page does not have it yet."""
        if turn.written == turn.sent:
            return
        if not turn.sent:
            turn.mark("first_text_ms")
        turn.sent = turn.written
        await self.send({"type": "answer", "turn": turn.number, "text": turn.sent})

    async def _speak(self, turn: Turn, sentences: asyncio.Queue[str | None]) -> None:
        """Each sentence synthesized as it comes (an early turn's too) and sent once
        the turn shows."""
        core = self.voice.core
        seq = 0
        while (sentence := await sentences.get()) is not None:
            if not WORDS.search(sentence):
                continue
            try:
                wav = await core.inference.speech(
                    sentence.strip(), voice=core.settings.voice, model=core.settings.speech_model
                )
            except InferenceError as exc:
                assert turn.shown is not None
                await turn.shown  # after the turn's words and text, as for audio
                await self.send({"type": "error", "turn": turn.number, "message": f"speech: {exc}"})
                continue
            assert turn.shown is not None
            await turn.shown
            if seq == 0:
                turn.mark("first_audio_ms")
            meta = {"turn": turn.number, "seq": seq, "text": sentence, "timing": turn.timing}
            head = json.dumps(meta).encode()
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_bytes(struct.pack(">I", len(head)) + head + wav)
            now = self.clock()
            self.playing_turn = turn.number
            self.playing_until = max(self.playing_until, now) + _seconds(wav) + 0.5
            seq += 1
