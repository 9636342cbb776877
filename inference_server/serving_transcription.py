"""The HTTP side of ``/v1/audio/transcriptions``: read OpenAI's multipart form (a
``file`` and its fields) within the upload limit, decode the audio with ffmpeg, check
every field (a 400 naming it, 413 for a file too large), and write the answer in the
``response_format`` asked for: ``json``, ``text``, ``verbose_json`` (with segments),
``srt`` or ``vtt``."""

from __future__ import annotations

import asyncio
import io
import re
import wave
from typing import Any

from aiohttp import BodyPartReader, web

from .protocol import ApiError
from .transcription import FORMATS, RATE, Job, Segment, TranscriptionServing

MAX_FIELDS = 32  # form parts read at most
FIELD_BYTES = 4096  # one field's value at most
MAX_PROMPT = 1000  # characters
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
LANGUAGES = {"en": "english"}  # verbose_json names the language; others by code


async def read_form(request: web.Request, limit: int) -> tuple[bytes, dict[str, str]]:
    """The uploaded file and the other fields of a multipart form."""
    if not request.content_type.startswith("multipart/form-data"):
        raise ApiError(400, "send the audio as multipart/form-data with a 'file' field",
                       param="file")  # fmt: skip
    try:
        reader = await request.multipart()
        audio: bytes | None = None
        fields: dict[str, str] = {}
        for _ in range(MAX_FIELDS):
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise ApiError(400, "nested multipart forms are not supported")
            if part.name == "file":
                audio = await _file(part, limit)
            elif part.name:
                value = await part.read(decode=True)
                if len(value) > FIELD_BYTES:
                    raise ApiError(400, f"invalid value for '{part.name}': too long",
                                   param=part.name)  # fmt: skip
                fields[part.name] = value.decode("utf-8", "replace")
    except (ValueError, web.HTTPException) as exc:  # a malformed form
        raise ApiError(400, f"the form could not be read: {exc}") from None
    if audio is None:
        raise ApiError(400, "missing required parameter: 'file'", param="file")
    if not audio:
        raise ApiError(400, "invalid value for 'file': it is empty", param="file")
    return audio, fields


async def _file(part: BodyPartReader, limit: int) -> bytes:
    chunks, size = [], 0
    while chunk := await part.read_chunk(65536):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"invalid value for 'file': larger than this server's limit "
                           f"of {limit} bytes", param="file", code="file_too_large")  # fmt: skip
        chunks.append(chunk)
    return b"".join(chunks)


def check(fields: dict[str, str], serving: TranscriptionServing) -> dict[str, Any]:
    """Every field but the file, checked; what ``Job`` needs of them."""
    if "model" not in fields:
        raise ApiError(400, "missing required parameter: 'model'", param="model")
    model = serving.resolve(fields["model"].strip())
    language = fields.get("language", "").strip().lower() or None
    if language is not None and not _LANGUAGE.match(language):
        raise ApiError(400, f"invalid value for 'language': {language[:20]!r} is not an "
                       "ISO-639-1 code (e.g. 'en')", param="language")  # fmt: skip
    if language not in (None, "en") and serving.settings.models[model].english_only:
        raise ApiError(400, f"invalid value for 'language': {model} transcribes English "
                       "only", param="language")  # fmt: skip
    prompt = fields.get("prompt")
    if prompt is not None and len(prompt) > MAX_PROMPT:
        raise ApiError(400, f"invalid value for 'prompt': {len(prompt)} characters; the "
                       f"limit is {MAX_PROMPT}", param="prompt")  # fmt: skip
    try:
        temperature = float(fields.get("temperature", "0"))
    except ValueError:
        temperature = -1.0
    if not 0 <= temperature <= 1:
        raise ApiError(400, "invalid value for 'temperature': a number from 0 to 1",
                       param="temperature")  # fmt: skip
    response_format = fields.get("response_format", "json")
    if response_format not in FORMATS:
        raise ApiError(400, f"invalid value for 'response_format': one of "
                       f"{', '.join(FORMATS)}", param="response_format")  # fmt: skip
    if fields.get("stream", "false").lower() not in ("false", "0", ""):
        raise ApiError(400, "streamed transcriptions are not supported", param="stream")
    if fields.get("timestamp_granularities[]", "segment") != "segment":
        raise ApiError(400, "only segment timestamps are supported",
                       param="timestamp_granularities[]")  # fmt: skip
    return {"model": model, "language": language, "prompt": prompt,
            "temperature": temperature, "response_format": response_format}  # fmt: skip


def _plain_wav(audio: bytes) -> Any:
    """The samples of a WAV that is already what Whisper takes (16-bit PCM, mono, 16 kHz:
    what the voice page sends), read directly: starting ffmpeg costs ~140 ms here.
    None for anything else."""
    import numpy as np

    if audio[:4] != b"RIFF" or audio[8:12] != b"WAVE":
        return None
    try:
        with wave.open(io.BytesIO(audio)) as w:
            if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, RATE):
                return None
            if w.getcomptype() != "NONE":
                return None
            pcm = w.readframes(w.getnframes())
    except (wave.Error, EOFError, ValueError):
        return None  # let ffmpeg say what is wrong with it
    return np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0


async def decode(audio: bytes, max_s: float) -> Any:
    """16 kHz mono float32 samples of any format ffmpeg reads; 400 naming 'file' when
    it cannot, or when the audio is longer than ``max_s`` (decoding stops there)."""
    import numpy as np

    plain = _plain_wav(audio)
    if plain is not None and plain.size:
        return _within(plain, max_s)
    try:
        proc = await asyncio.create_subprocess_exec(
            "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", "pipe:0",
            "-t", f"{max_s + 1:.3f}", "-f", "f32le", "-ac", "1", "-ar", str(RATE), "pipe:1",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate(audio)
    except OSError as exc:
        raise ApiError(500, f"ffmpeg cannot run on this server: {exc}",
                       type="server_error") from None  # fmt: skip
    samples = np.frombuffer(out[: len(out) // 4 * 4], dtype="<f4")
    if proc.returncode != 0 or not samples.size:
        why = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no audio in it"]
        raise ApiError(400, f"invalid value for 'file': it could not be decoded as audio "
                       f"({why[0][:160]})", param="file")  # fmt: skip
    return _within(samples, max_s)


def _within(samples: Any, max_s: float) -> Any:
    if samples.size > max_s * RATE:
        raise ApiError(400, f"invalid value for 'file': longer than this server's limit of "
                       f"{max_s:g} seconds", param="file")  # fmt: skip
    return samples


async def transcription(request: web.Request, serving: TranscriptionServing) -> web.Response:
    """The whole route: form, checks, decoding, transcription, the answer's format."""
    serving.require()
    s = serving.settings
    audio, fields = await read_form(request, s.max_upload_bytes)
    checked = check(fields, serving)
    samples = await decode(audio, s.max_duration_s)
    segments = await serving.transcribe(Job(audio=samples, **checked))
    duration = round(samples.size / RATE, 3)
    return answer(segments, checked["response_format"], checked["language"] or "en", duration)


def answer(segments: list[Segment], fmt: str, language: str, duration: float) -> web.Response:
    text = "".join(s.text for s in segments).strip()
    if fmt == "json":
        return web.json_response({"text": text, "usage": {"type": "duration",
                                                          "seconds": round(duration)}})  # fmt: skip
    if fmt == "verbose_json":
        return web.json_response({
            "task": "transcribe", "language": LANGUAGES.get(language, language),
            "duration": duration, "text": text,
            "segments": [
                {"id": i, "seek": 0, "start": round(s.start, 3), "end": round(s.end, 3),
                 "text": s.text, "tokens": s.tokens, "temperature": 0.0,
                 "avg_logprob": s.avg_logprob, "compression_ratio": s.compression_ratio,
                 "no_speech_prob": s.no_speech_prob}
                for i, s in enumerate(segments)
            ],
        })  # fmt: skip
    if fmt == "text":
        return web.Response(text=text + "\n", content_type="text/plain")
    return web.Response(text=_subtitles(segments, fmt), content_type="text/plain")


def _stamp(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _subtitles(segments: list[Segment], fmt: str) -> str:
    """SubRip (numbered, comma before milliseconds) or WebVTT (a header, a dot)."""
    blocks = []
    for i, s in enumerate(segments, 1):
        sep = "," if fmt == "srt" else "."
        times = f"{_stamp(s.start, sep)} --> {_stamp(s.end, sep)}"
        blocks.append(
            f"{i}\n{times}\n{s.text.strip()}" if fmt == "srt" else f"{times}\n{s.text.strip()}"
        )
    body = "\n\n".join(blocks)
    return f"{body}\n" if fmt == "srt" else f"WEBVTT\n\n{body}\n"
