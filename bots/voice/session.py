"""One voice conversation: a page's WebSocket.

In: 16 kHz 16-bit mono PCM as binary messages, and JSON controls (``mode``: ``vad`` or
``ptt``; ``ptt`` with ``down``; ``played`` when the page has played a turn to its end).
Out: JSON events (``ready``, ``unavailable``, ``speech``, ``heard``, ``answer``, ``done``,
``stop``, ``error``) and binary audio messages: a 4-byte big-endian length, that many
bytes of JSON (``turn``, ``seq``, ``text``, ``timing``), then one sentence's WAV.

A turn: the utterance is transcribed (already from its first pause, so the end-of-speech
wait and the transcription overlap), given to the chat core as ``!<command> <words>``
in the voice channel, and its answer streamed: the text as it grows, each finished
sentence synthesized and sent while the model writes the next. A new utterance while a
turn runs or its audio plays is a barge-in: the turn is cancelled (the generation stops
on the server, pending speech is dropped) and the page stops playing at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import re
import struct
import time
import wave
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from aiohttp import WSMsgType, web

from literai_core.chat import ChannelKey, ChatLine, Reply, ReplyKind
from literai_core.gate import OWNER
from literai_core.guard import split_sentences
from literai_core.inference import InferenceError

from .vad import RATE, Event, Silero, Turns, frames_of, listen

if TYPE_CHECKING:
    from .page import Voice

log = logging.getLogger(__name__)
_WORDS = re.compile(r"\w")
_CLAUSE = re.compile(r"[,;:\u2013\u2014](?=\s)")  # a comma, semicolon, colon or dash, then a space


def clauses(sentence: str, *, min_words: int = 3) -> list[str]:
    """``sentence`` cut after its first clause when both parts keep ``min_words``: the
    first is spoken while the rest is synthesized (the guard passed the whole)."""
    for mark in _CLAUSE.finditer(sentence):
        head, tail = sentence[: mark.end()], sentence[mark.end() :]
        if len(head.split()) >= min_words and len(tail.split()) >= min_words:
            return [head, tail]
    return [sentence]


ROLES = frozenset({"broadcaster", OWNER})  # the person at the machine (or with its key)
CONTINUES = frozenset({"gpt2"})  # commands whose answer starts with the user's own words


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


def _retrieved(task: asyncio.Task[str]) -> None:
    if not task.cancelled():
        task.exception()


async def _queue(sentences: asyncio.Queue[str | None], sentence: str, queued: int) -> int:
    """The first sentence of a turn goes in its clauses, so the first audio is sooner."""
    for part in clauses(sentence) if not queued else [sentence]:
        await sentences.put(part)
    return queued + 1


class Session:
    def __init__(
        self, voice: Voice, ws: web.WebSocketResponse, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.voice, self.ws, self.clock = voice, ws, clock
        s = voice.settings
        self.turns = Turns(threshold=s.threshold, start_ms=s.start_ms, pause_ms=s.pause_ms,
                           end_ms=s.end_ms, max_s=s.max_utterance_s)  # fmt: skip
        self.prob: Silero | None = None
        self.mode = "vad"
        self.held: list[np.ndarray] | None = None  # press-to-talk: frames while pressed
        self.left = b""
        self.turn = 0
        self.task: asyncio.Task[None] | None = None
        self.draft: tuple[int, asyncio.Task[str]] | None = None  # (samples, transcription)
        self.playing_until = 0.0  # when the page will have played what it was sent
        self.playing_turn = 0  # the last turn whose audio went out
        self.heard: asyncio.Task[str] | None = None  # the current turn's words
        # The words of a turn talked over before it said anything: the speaker had not
        # finished, so they begin the next turn ("what is..." pause "...a teletype").
        self.carry: asyncio.Future[str] | None = None
        self.windowed = 0  # the last turn whose words joined the window (voice.context)

    async def run(self) -> None:
        self.prob = await asyncio.to_thread(Silero)
        await self.send({"type": "ready", "mode": self.mode})
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.BINARY:
                    await self._audio(msg.data)
                elif msg.type == WSMsgType.TEXT:
                    await self._control(msg.data)
        finally:
            for task in (self.task, self.draft[1] if self.draft else None):
                if task is not None:
                    task.cancel()

    async def send(self, event: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_json(event)

    # -- in -------------------------------------------------------------------------

    async def _control(self, data: str) -> None:
        try:
            msg = json.loads(data)
            kind = msg["type"]
        except (ValueError, KeyError, TypeError):
            await self.send({"type": "error", "message": "not a control message"})
            return
        if kind == "mode" and msg.get("mode") in ("vad", "ptt"):
            self.mode, self.held = msg["mode"], None
            self.turns.finish()  # whatever was being heard is dropped
        elif kind == "ptt" and self.mode == "ptt" and isinstance(msg.get("down"), bool):
            await self._press(msg["down"])
        elif kind == "played":  # an older turn's (talked over) changes nothing
            if msg.get("turn") == self.playing_turn:
                self.playing_until = 0.0
        else:
            await self.send({"type": "error", "message": f"unknown control: {kind!s:.40}"})

    async def _press(self, down: bool) -> None:
        if down and self.held is None:
            self.held = []
            await self._barge_in()
            await self.send({"type": "speech"})
        elif not down and self.held is not None:
            audio = np.concatenate(self.held) if self.held else np.zeros(0, np.int16)
            self.held = None
            if len(audio) < RATE // 5:  # a tap, not speech
                await self.send({"type": "heard", "turn": self.turn, "text": ""})
                return
            self._begin(asyncio.create_task(self._transcribe(audio)))

    async def _audio(self, pcm: bytes) -> None:
        if self.mode == "ptt" and self.held is None:
            return  # not pressed: nothing is heard
        frames, self.left = frames_of(pcm, self.left)
        if self.held is not None:
            self.held += frames
            if len(self.held) >= self.turns.max_frames:
                await self._press(False)
            return
        assert self.prob is not None
        for event in await asyncio.to_thread(listen, frames, self.prob, self.turns):
            await self._event(event)

    async def _event(self, event: Event) -> None:
        if event.kind == "start":
            await self._barge_in()
            await self.send({"type": "speech"})
        elif event.kind == "pause" and event.audio is not None:
            self._drop_draft()
            early = asyncio.create_task(self._transcribe(event.audio))
            early.add_done_callback(_retrieved)  # a dropped draft's failure is nobody's
            self.draft = (len(event.audio), early)
        elif event.kind == "resume":
            self._drop_draft()
        elif event.kind == "end" and event.audio is not None:
            draft, self.draft = self.draft, None
            if draft is not None and draft[0] == len(event.audio):
                self._begin(draft[1])  # heard already, while waiting for the end
            else:
                if draft is not None:
                    draft[1].cancel()
                self._begin(asyncio.create_task(self._transcribe(event.audio)))

    def _drop_draft(self) -> None:
        if self.draft is not None:
            self.draft[1].cancel()
            self.draft = None

    async def _transcribe(self, samples: np.ndarray) -> str:
        model = self.voice.settings.transcription_model
        return await self.voice.core.inference.transcribe(wav_of(samples), model=model)

    # -- turns ----------------------------------------------------------------------

    def _busy(self) -> bool:
        running = self.task is not None and not self.task.done()
        return running or self.clock() < self.playing_until

    async def _barge_in(self) -> None:
        if not self._busy():
            return
        if self.task is not None and not self.task.done():
            self.task.cancel()
            if self.playing_turn < self.turn and self.heard is not None:
                self.carry = self.heard
        self.playing_until = 0.0
        self.voice.barge_ins += 1
        log.info("voice: barge-in, turn %d stopped", self.turn)
        await self.send({"type": "stop", "turn": self.turn})

    def _begin(self, heard: asyncio.Task[str]) -> None:
        self.turn += 1
        carry, self.carry, self.heard = self.carry, None, heard
        self.task = asyncio.create_task(self._answer(self.turn, heard, self.clock(), carry))

    async def _answer(
        self, turn: int, heard: asyncio.Task[str], ended: float, carry: Awaitable[str] | None
    ) -> None:
        """Long because: one turn end to end (heard, handled, streamed, spoken) reads
        best in order, and its cancellation (a barge-in) must stop every part of it."""
        timing: dict[str, float] = {}

        def mark(name: str) -> None:
            timing[name] = round((self.clock() - ended) * 1000, 1)

        try:
            words = fresh = (await asyncio.shield(heard)).strip()  # a barge-in may carry them on
            if carry is not None:
                words = f"{(await carry).strip()} {words}".strip()
        except InferenceError as exc:
            kind = "unavailable" if exc.not_configured else "error"
            await self.send({"type": kind, "turn": turn, "message": f"speech to text: {exc}"})
            return
        mark("heard_ms")
        if not _WORDS.search(words):
            await self.send({"type": "heard", "turn": turn, "text": ""})
            return
        await self.send({"type": "heard", "turn": turn, "text": words})
        self.voice.turns += 1
        core, s = self.voice.core, self.voice.settings
        if not s.context:  # answered on its own (voice.context)
            core.forget(ChannelKey(self.voice.platform, s.channel))
        text = f"{core.prefix}{s.command} {words}"
        line = ChatLine("voice", s.channel, s.user, text, self.clock(), ROLES)
        reply = await core.handle(line)
        if reply is None:
            await self.send({"type": "done", "turn": turn, "text": "", "kind": "ignored"})
            return
        if s.context and reply.streaming and s.command not in CONTINUES:
            # A dialogue: a command's words never join a window, so the user's side is
            # added here, once this turn's prompt is made (the answer joins when it
            # ends); words carried on from a turn whose words joined already, not again.
            said = fresh if carry is not None and self.windowed == turn - 1 else words
            core.windows.add(ChatLine("voice", s.channel, s.user, said, line.time))
            self.windowed = turn
        sentences: asyncio.Queue[str | None] = asyncio.Queue(maxsize=8)
        speaker = asyncio.create_task(self._speak(turn, sentences, mark, timing))
        try:
            await self._stream(turn, reply, sentences, mark)
            await speaker
        finally:
            speaker.cancel()
        await self.send({"type": "done", "turn": turn, "text": reply.final_text,
                         "kind": reply.kind.value, "timing": timing})  # fmt: skip

    async def _stream(
        self,
        turn: int,
        reply: Reply,
        sentences: asyncio.Queue[str | None],
        mark: Callable[[str], None],
    ) -> None:
        """The answer's text to the page as it grows; its sentences to the speaker (only
        an answer is spoken; a notice or refusal is shown)."""
        so_far, rest, queued = "", "", 0
        spoken = reply.kind is ReplyKind.ANSWER
        async for piece in reply.deltas():
            if not so_far:
                mark("first_text_ms")
            so_far += piece
            await self.send({"type": "answer", "turn": turn, "text": so_far})
            whole, rest = split_sentences(rest + piece, final=False)
            for sentence in whole if spoken else ():
                queued = await _queue(sentences, sentence, queued)
        if spoken and reply.kind is ReplyKind.ANSWER:
            whole, rest = split_sentences(rest, final=True)
            for sentence in [*whole, rest]:
                queued = await _queue(sentences, sentence, queued)
        await sentences.put(None)

    async def _speak(
        self,
        turn: int,
        sentences: asyncio.Queue[str | None],
        mark: Callable[[str], None],
        timing: dict[str, float],
    ) -> None:
        core = self.voice.core
        seq = 0
        while (sentence := await sentences.get()) is not None:
            if not _WORDS.search(sentence):
                continue
            try:
                wav = await core.inference.speech(
                    sentence.strip(), voice=core.settings.voice, model=core.settings.speech_model
                )
            except InferenceError as exc:
                await self.send({"type": "error", "turn": turn, "message": f"speech: {exc}"})
                continue
            if seq == 0:
                mark("first_audio_ms")
            meta = json.dumps({"turn": turn, "seq": seq, "text": sentence, "timing": timing})
            head = meta.encode()
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_bytes(struct.pack(">I", len(head)) + head + wav)
            now = self.clock()
            self.playing_turn = turn
            self.playing_until = max(self.playing_until, now) + _seconds(wav) + 0.5
            seq += 1
