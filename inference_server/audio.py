"""Audio containers and codecs. WAV and raw PCM are written here; compressed formats are
encoded by ffmpeg (from the OS packages) as a streaming subprocess: PCM in on stdin,
encoded bytes out on stdout, so the first bytes leave before the input has ended."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import struct
from collections.abc import AsyncIterator

CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",  # Ogg Opus, as OpenAI sends it
    "ogg": "audio/ogg",  # Ogg Vorbis
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}

_FFMPEG_CODECS = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"],
    "opus": ["-c:a", "libopus", "-b:a", "32k", "-f", "ogg"],
    "ogg": ["-c:a", "libvorbis", "-q:a", "3", "-f", "ogg"],
    "aac": ["-c:a", "aac", "-b:a", "64k", "-f", "adts"],
    "flac": ["-c:a", "flac", "-f", "flac"],
}


class EncoderError(Exception):
    pass


def wav_header(sample_rate: int, data_bytes: int | None) -> bytes:
    """A 16-bit mono WAV header; ``None`` for a stream of unknown length."""
    size = 0xFFFFFFFF if data_bytes is None else data_bytes
    riff = 0xFFFFFFFF if data_bytes is None else 36 + data_bytes
    return (
        b"RIFF" + struct.pack("<I", riff) + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data" + struct.pack("<I", size)
    )  # fmt: skip


async def encode(
    pcm: AsyncIterator[bytes], fmt: str, sample_rate: int, *, streaming: bool
) -> AsyncIterator[bytes]:
    """Encode 16-bit mono PCM pieces into ``fmt``, yielding bytes as they are ready."""
    if fmt == "pcm":
        async for piece in pcm:
            yield piece
    elif fmt == "wav" and streaming:
        yield wav_header(sample_rate, None)
        async for piece in pcm:
            yield piece
    elif fmt == "wav":
        data = b"".join([piece async for piece in pcm])
        yield wav_header(sample_rate, len(data)) + data
    elif fmt in _FFMPEG_CODECS:
        async for out in _ffmpeg(pcm, _FFMPEG_CODECS[fmt], sample_rate):
            yield out
    else:
        raise EncoderError(f"unknown format {fmt!r}")


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None


async def _ffmpeg(pcm: AsyncIterator[bytes], codec: list[str], rate: int) -> AsyncIterator[bytes]:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise EncoderError("ffmpeg is not installed (apt-get install ffmpeg)")
    proc = await asyncio.create_subprocess_exec(
        exe, "-hide_banner", "-loglevel", "error", "-nostdin",
        "-f", "s16le", "-ar", str(rate), "-ac", "1", "-i", "pipe:0", *codec, "pipe:1",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None

    async def feed() -> None:
        assert proc.stdin is not None
        try:
            async for piece in pcm:
                proc.stdin.write(piece)
                await proc.stdin.drain()
        finally:
            with contextlib.suppress(ConnectionError):
                proc.stdin.close()

    feeder = asyncio.ensure_future(feed())
    try:
        while chunk := await proc.stdout.read(16384):
            yield chunk
        await feeder  # re-raises a synthesis error from the PCM source
        if await proc.wait() != 0:
            err = (await proc.stderr.read()).decode(errors="replace").strip()
            raise EncoderError(f"ffmpeg failed: {err[:200]}")
    finally:
        if not feeder.done():
            feeder.cancel()
            with contextlib.suppress(BaseException):
                await feeder
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
