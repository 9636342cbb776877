"""The speech service: named voices on their backends, run off the loop with bounded
concurrency and a bounded queue, one sentence at a time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from .backends.base import BackendError, CancelToken
from .backends.speech import CoquiBackend, EspeakBackend, PiperBackend, SpeechBackend
from .engine import Slots
from .handoff import Handoff
from .settings import SpeechSettings

log = logging.getLogger(__name__)


class VoiceUnavailable(Exception):
    pass


def build_voices(settings: SpeechSettings) -> dict[str, SpeechBackend]:
    voices: dict[str, SpeechBackend] = {}
    for name, voice in settings.voices.items():
        if voice.backend == "piper":
            model = Path(voice.model).expanduser() if voice.model else None
            voices[name] = PiperBackend(
                name, model, n_threads=settings.n_threads, speaker_id=voice.speaker_id
            )
        elif voice.backend == "coqui":
            folder = Path(voice.model).expanduser() if voice.model else None
            voices[name] = CoquiBackend(name, folder, speaker=voice.speaker_id)
        else:
            voices[name] = EspeakBackend(name, voice.espeak_voice)
    return voices


class SpeechService:
    def __init__(self, settings: SpeechSettings, voices: dict[str, SpeechBackend]) -> None:
        self.settings = settings
        self.voices = voices
        self.errors: dict[str, str] = {}  # voice -> why it could not load
        self.loaded: set[str] = set()
        self.load_finished = False  # every voice loaded or failed
        self._executor = ThreadPoolExecutor(settings.max_concurrent, thread_name_prefix="speech")
        self._slots = Slots(settings.max_concurrent, settings.max_queue, "speech requests")

    async def load(self) -> None:
        loop = asyncio.get_running_loop()
        for name, backend in self.voices.items():
            try:
                await loop.run_in_executor(self._executor, backend.load)
                self.loaded.add(name)
            except BackendError as exc:
                self.errors[name] = str(exc)
                log.warning("voice %r is unavailable: %s", name, exc)
        self.load_finished = True

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        for backend in self.voices.values():
            await loop.run_in_executor(self._executor, backend.close)
        self._executor.shutdown(wait=True)

    def names(self) -> list[str]:
        return sorted(self.voices)

    def resolve(self, name: str) -> str | None:
        """A voice name or alias to a configured voice name."""
        if name in self.voices:
            return name
        return self.settings.aliases.get(name)

    def describe(self) -> list[dict[str, Any]]:
        out = []
        for name in self.names():
            aliases = sorted(a for a, v in self.settings.aliases.items() if v == name)
            out.append(
                {
                    "id": name,
                    "object": "voice",
                    "backend": self.settings.voices[name].backend,
                    "aliases": aliases,
                    "available": name in self.loaded,
                    "error": self.errors.get(name),
                    "sample_rate": self.voices[name].sample_rate,
                }
            )
        return out

    @asynccontextmanager
    async def synthesis(
        self, voice: str, text: str, speed: float
    ) -> AsyncIterator[tuple[int, AsyncIterator[bytes]]]:
        """(sample rate, PCM pieces). Leaving the block stops the synthesis."""
        backend = self.voices[voice]
        if voice not in self.loaded:
            why = self.errors.get(voice, "still loading")
            raise VoiceUnavailable(f"voice {voice!r} is unavailable: {why}")
        await self._slots.acquire()
        loop = asyncio.get_running_loop()
        handoff = Handoff(loop)
        cancel = CancelToken()
        # synthesize() is a generator: nothing runs until the worker thread iterates it.
        future = loop.run_in_executor(
            self._executor, handoff.pump, backend.synthesize(text, speed), cancel
        )
        future.add_done_callback(lambda _: self._slots.release())
        try:
            yield backend.sample_rate, handoff.items()
        finally:
            cancel.cancel()


def build_speech(settings: SpeechSettings) -> SpeechService | None:
    """The speech service from config, or None when speech is off."""
    if not settings.enabled:
        return None
    return SpeechService(settings, build_voices(settings))
