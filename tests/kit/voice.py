"""What the voice tests and ``bench/voice.py`` share: a text engine that answers the same
lecture whatever it is asked (slowly, so a barge-in lands while it writes; it counts the
generations cut off), utterances spoken by literai's own Piper voice as 16 kHz PCM, and
a client of the voice page's WebSocket that streams them in real time, as a microphone."""

from __future__ import annotations

import asyncio
import json
import struct
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from aiohttp import web

from bots.voice.page import Voice
from bots.voice.settings import VoiceSettings
from bots.voice.vad import RATE
from inference_server.backends.base import CancelToken, ChatMessage, Delta, SamplingParams
from inference_server.backends.echo import EchoBackend
from literai_core.chat import Reply
from literai_core.commands import default_components
from literai_core.core import ChatCore
from literai_core.settings import BotSettings

from .chat import bot_settings
from .inprocess import MODEL, EchoServer, echo_settings
from .inprocess import serve as serve_api
from .loopback import serve

CHUNK = 1024  # samples per message: 64 ms, as the page sends them

LECTURE = (
    "A teletype is a printing telegraph. It types each letter that arrives over the wire, "
    "one after another. Newsrooms kept them running all night for the wire services."
)


class Lecturer(EchoBackend):
    """Answers every prompt with ``text``, a word per ``token_delay_s``."""

    def __init__(self, text: str = LECTURE, token_delay_s: float = 0.2) -> None:
        super().__init__(MODEL, max_parallel=2, token_delay_s=token_delay_s)
        self.text = text
        self.cut_off = 0  # generations cancelled before their last word

    def generate(
        self, prompt: str | list[ChatMessage], params: SamplingParams, cancel: CancelToken
    ) -> Iterator[Delta]:
        words = self.text.split()
        n_prompt = len(str(prompt).split())
        deltas = self._words(words, n_prompt, params.max_tokens or 10_000, params, cancel)
        return self._counted(self._watched(deltas, cancel, len(words)))

    def _watched(self, deltas: Iterator[Delta], cancel: CancelToken, n: int) -> Iterator[Delta]:
        produced = 0
        for delta in deltas:
            produced = delta.completion_tokens
            yield delta
        if cancel.cancelled and produced < n:
            self.cut_off += 1


@contextmanager
def voice_server(tmp: Path, backend: Lecturer) -> Iterator[EchoServer]:
    """literai's real app on ``backend`` with Piper and Whisper tiny.en on."""
    settings = echo_settings(tmp, speech={"enabled": True}, transcription={})
    with serve_api(settings, backend) as server:
        yield server


def spoken(server: EchoServer, text: str) -> np.ndarray:
    """``text`` in literai's own Piper voice, as 16 kHz samples."""
    client = server.client(timeout=60)
    return pcm16k(client.audio.speech.create(model="tts-1", voice="joe", input=text).read())


async def voice_page(
    inference: Any,
    settings: VoiceSettings | None = None,
    bot: BotSettings | None = None,
    observers: Sequence[Callable[[Reply], None]] = (),
) -> tuple[web.AppRunner, str, Voice]:
    """The voice page on a chat core of its own (``bot``: the tests' settings by
    default; ``observers``: what sees each answer, as the overlay does), served on
    loopback as ``literai run`` serves it; (runner, base URL, the adapter)."""
    bot = bot or bot_settings(max_reply_chars=400)
    core = ChatCore(bot, inference, default_components(), observers=observers)
    voice = Voice(settings or VoiceSettings())  # type: ignore[call-arg]
    voice.attach(core)
    app = web.Application()
    voice.add_routes(app)
    runner, port = await serve(app, handler_cancellation=True)
    return runner, f"http://127.0.0.1:{port}", voice


def pcm16k(wav: bytes) -> np.ndarray:
    """Any audio file as 16 kHz 16-bit mono samples (ffmpeg)."""
    out = subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", "pipe:0", "-f", "s16le", "-ac", "1",
         "-ar", str(RATE), "pipe:1"],
        input=wav, capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(out, dtype="<i2")


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


@dataclass
class Heard:
    """What the page got, with arrival times (``time.monotonic``)."""

    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    audio: list[tuple[float, dict[str, Any], bytes]] = field(default_factory=list)

    def of(self, kind: str, turn: int | None = None) -> list[dict[str, Any]]:
        return [e for _, e in self.events if e["type"] == kind and turn in (None, e.get("turn"))]

    def first(self, kind: str, turn: int) -> float | None:
        return next(
            (t for t, e in self.events if e["type"] == kind and e.get("turn") == turn), None
        )


class Microphone:
    """A voice page's socket: samples sent at the pace a microphone makes them."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.heard = Heard()
        self.spoke_until = 0.0  # when the last sample of speech was spoken
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            now = time.monotonic()
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.heard.events.append((now, json.loads(msg.data)))
            elif msg.type == aiohttp.WSMsgType.BINARY:
                (n,) = struct.unpack(">I", msg.data[:4])
                meta = json.loads(msg.data[4 : 4 + n])
                self.heard.audio.append((now, meta, msg.data[4 + n :]))

    async def say(
        self, samples: np.ndarray, *, speed: float = 1.0, speech_ends: int | None = None
    ) -> None:
        """Stream ``samples`` as a microphone does (``speed`` times faster): each 64 ms
        message once its last sample has been "spoken". ``spoke_until`` is the moment
        the sample at ``speech_ends`` (default: the last) was spoken."""
        start = time.monotonic()
        ends = len(samples) if speech_ends is None else speech_ends
        self.spoke_until = start + ends / RATE / speed
        for i in range(0, len(samples), CHUNK):
            due = start + min(len(samples), i + CHUNK) / RATE / speed
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await self.ws.send_bytes(samples[i : i + CHUNK].astype("<i2").tobytes())

    async def wait_for(
        self, kind: str, turn: int | None = None, limit_s: float = 60, *, after: int = -1
    ) -> dict[str, Any]:
        """The first event of ``kind`` (for ``turn``, or a turn past ``after``). A turn
        begun early at a pause and dropped unseen takes a number, so tests that speak
        naturally name turns by what came before, not by number."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            found = [e for e in self.heard.of(kind, turn) if e.get("turn", after + 1) > after]
            if found:
                return found[0]
            if self._reader.done():
                raise AssertionError(f"the socket closed before {kind!r}: {self.heard.events}")
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {kind!r} for turn {turn} in {limit_s} s: {self.heard.events}")

    async def press(self, samples: np.ndarray) -> None:
        """Press to talk: ``samples`` said (ten times real time) while the button is held."""
        await self.ws.send_json({"type": "ptt", "down": True})
        await self.say(samples, speed=10)
        await self.ws.send_json({"type": "ptt", "down": False})

    async def wait_for_audio(self, limit_s: float = 60) -> None:
        """Until the first sentence's audio has arrived."""
        deadline = time.monotonic() + limit_s
        while not self.heard.audio:
            if time.monotonic() > deadline or self._reader.done():
                raise AssertionError(f"no audio came: {self.heard.events}")
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.gather(self._reader, return_exceptions=True)


@asynccontextmanager
async def microphone(url: str) -> AsyncIterator[Microphone]:
    """The voice page's socket under ``url`` (the pages' base), once it is ready."""
    async with aiohttp.ClientSession() as http, http.ws_connect(url + "/voice/ws") as ws:
        mic = Microphone(ws)
        await mic.wait_for("ready")
        try:
            yield mic
        finally:
            await mic.close()
