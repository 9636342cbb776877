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
on the server, pending speech is dropped) and the page stops playing at once. Once the
first pause's words are heard, the turn is begun early (``voice.answer_early``): written
and spoken, shown only when the end of speech is found, dropped unseen if speech
resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from aiohttp import WSMsgType, web

from literai_core.chat import ChannelKey, ChatLine
from literai_core.gate import OWNER
from literai_core.inference import InferenceError

from .speaking import WORDS, Speaker, wav_of
from .turn import Turn
from .vad import RATE, Event, Silero, Turns, frames_of, listen

if TYPE_CHECKING:
    from .page import Voice

log = logging.getLogger(__name__)


ROLES = frozenset({"broadcaster", OWNER})  # the person at the machine (or with its key)
CONTINUES = frozenset({"gpt2"})  # commands whose answer starts with the user's own words


def _retrieved(task: asyncio.Task[str]) -> None:
    if not task.cancelled():
        task.exception()


class Session(Speaker):
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
        self.ready: tuple[asyncio.Task[str], float] | None = None  # a draft's words, when
        self.early: asyncio.Future[float] | None = None  # the gate of a turn begun early
        self.early_carry: asyncio.Future[str] | None = None  # what it carried on
        self.closed = False
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
            self.closed = True  # a draft done in this very moment begins nothing
            self._drop_draft(went_on=False)
            if self.task is not None:
                self.task.cancel()

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
            self._drop_draft(went_on=False)
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
            early.add_done_callback(self._drafted)
            self.draft = (len(event.audio), early)
        elif event.kind == "resume":
            self._drop_draft()
        elif event.kind == "end" and event.audio is not None:
            draft, self.draft = self.draft, None
            same = draft is not None and draft[0] == len(event.audio)
            if self.early is not None and same:
                self.early.set_result(self.clock())  # begun at the pause: it may show now
                self.early = None
                return
            self._drop_early()  # (not its words)
            if draft is not None and same:
                # heard already (or being heard), while waiting for the end
                ready = self.ready[1] if self.ready and self.ready[0] is draft[1] else None
                self._begin(draft[1], ready)
            else:
                if draft is not None:
                    draft[1].cancel()
                self._begin(asyncio.create_task(self._transcribe(event.audio)))

    def _drafted(self, task: asyncio.Task[str]) -> None:
        """A draft's words are in while the speaker is still silent: note when, and
        (``voice.answer_early``) begin the turn, unseen until the end is found."""
        if self.closed or self.draft is None or self.draft[1] is not task:
            return
        self.ready = (task, self.clock())
        if task.cancelled() or task.exception() is not None:
            return
        s = self.voice.settings
        # With voice.context, the answer could join the window before the words it
        # answers (they join once the turn shows): such turns begin at the end.
        if s.answer_early and not s.context and not self._busy() and self.early is None:
            self.early = asyncio.get_running_loop().create_future()
            self._begin(task, gate=self.early)

    def _drop_draft(self, *, went_on: bool = True) -> None:
        """The speaker went on: the draft, and a turn begun on it, are dropped unseen."""
        if self.draft is not None:
            self.draft[1].cancel()
            self.draft = None
        self._drop_early(went_on=went_on)

    def _drop_early(self, *, went_on: bool = True) -> None:
        """A turn begun early is cancelled unseen; words it carried on from a turn talked
        over go to the next one."""
        if self.early is None:
            return
        self.early.cancel()
        self.early = None
        if self.task is not None:
            self.task.cancel()
            self.voice.early_dropped += went_on
        self.carry = self.early_carry

    async def _transcribe(self, samples: np.ndarray) -> str:
        model = self.voice.settings.transcription_model
        return await self.voice.core.inference.transcribe(wav_of(samples), model=model)

    # -- turns ----------------------------------------------------------------------

    def _busy(self) -> bool:
        """A turn is writing or playing; one already stopped by a barge-in (still
        unwinding its generation) is not, so the next may begin early at once."""
        task = self.task
        running = task is not None and not task.done() and not task.cancelling()
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

    def _begin(
        self,
        heard: asyncio.Task[str],
        drafted_at: float | None = None,
        gate: asyncio.Future[float] | None = None,
    ) -> None:
        """A turn for the words ``heard`` will give (``drafted_at``: when a draft
        transcription had them, before the end of speech was found). With ``gate``, an
        early turn: it is written and spoken at once, but shows nothing until the gate
        gives the end of speech (a resumed utterance drops it unseen)."""
        self.turn += 1
        carry, self.carry, self.heard = self.carry, None, heard
        self.early_carry = carry if gate is not None else None
        now = self.clock()
        timing: dict[str, float] = {}
        if drafted_at is not None:  # how long the words waited for the end of speech
            timing["words_waited_ms"] = round((now - drafted_at) * 1000, 1)
        turn = Turn(self.turn, now, timing, self.clock, gate, carry)
        self.task = asyncio.create_task(self._answer(turn, heard))

    async def _answer(self, turn: Turn, heard: asyncio.Task[str]) -> None:
        """Long because: one turn end to end (heard, handled, streamed, spoken) reads
        best in order, and its cancellation (a barge-in) must stop every part of it."""
        n, carry, mark = turn.number, turn.carry, turn.mark
        try:
            words = fresh = (await asyncio.shield(heard)).strip()  # a barge-in may carry them on
            if carry is not None:
                words = f"{(await carry).strip()} {words}".strip()
        except InferenceError as exc:
            await turn.released()
            kind = "unavailable" if exc.not_configured else "error"
            await self.send({"type": kind, "turn": n, "message": f"speech to text: {exc}"})
            return
        if not WORDS.search(words):
            await turn.released()
            await self.send({"type": "heard", "turn": n, "text": ""})
            return
        if turn.gate is None:
            mark("heard_ms")
            await self.send({"type": "heard", "turn": n, "text": words})
        core, s = self.voice.core, self.voice.settings
        if not s.context:  # answered on its own (voice.context)
            core.forget(ChannelKey(self.voice.platform, s.channel))
        text = f"{core.prefix}{s.command} {words}"
        line = ChatLine("voice", s.channel, s.user, text, self.clock(), ROLES)
        reply = await core.handle(line, shown=turn.gate)  # the overlay waits for it too

        async def shown() -> None:
            """Once the end of speech is certain: the words, the count, the window."""
            if turn.gate is not None:
                await turn.released()
                mark("heard_ms")
                await self.send({"type": "heard", "turn": n, "text": words})
                await self._show_text(turn)  # what was written before the end
            self.voice.turns += 1
            if reply is not None and s.context and reply.streaming and s.command not in CONTINUES:
                # A dialogue: a command's words never join a window, so the user's side
                # is added here, once this turn's prompt is made (the answer joins when
                # it ends); words carried on from a turn whose words joined, not again.
                said = fresh if carry is not None and self.windowed == n - 1 else words
                core.windows.add(ChatLine("voice", s.channel, s.user, said, line.time))
                self.windowed = n

        turn.shown = asyncio.create_task(shown())
        if turn.gate is None:
            await turn.shown  # the user's words join the window before the answer can
        sentences: asyncio.Queue[str | None] = asyncio.Queue(maxsize=8)
        speaker = asyncio.create_task(self._speak(turn, sentences))
        try:
            if reply is None:
                await turn.shown
                await self.send({"type": "done", "turn": n, "text": "", "kind": "ignored"})
                return
            await self._stream(turn, reply, sentences)
            await speaker
            await turn.shown
        finally:
            speaker.cancel()
            turn.shown.cancel()
        await self.send({"type": "done", "turn": n, "text": reply.final_text,
                         "kind": reply.kind.value, "timing": turn.timing})  # fmt: skip
