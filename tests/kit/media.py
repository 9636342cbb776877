"""Real media bytes for fakes and assertions: WAV tones of a known length and solid PNG
pictures whose colour is set by their prompt, both decodable by the real readers."""

from __future__ import annotations

import io
import math
import struct
import wave
import zlib

from PIL import Image


def tone(seconds: float, rate: int = 22050) -> bytes:
    """A 440 Hz sine as WAV: known length, clearly not silence."""
    n = int(seconds * rate)
    frames = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(n)
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


def wav_seconds(data: bytes) -> float:
    """The length of a WAV file (it must be one: ``wave`` refuses anything else)."""
    with wave.open(io.BytesIO(data)) as w:
        return w.getnframes() / w.getframerate()


def spoken(text: str) -> bytes:
    """What the scripted speech says for ``text``: a tone of 0.1 s a word (8 kHz)."""
    return tone(0.1 * max(1, len(text.split())), rate=8000)


def colour_of(prompt: str) -> tuple[int, int, int]:
    """The colour of ``picture(prompt)``: a stable function of the prompt."""
    crc = zlib.crc32(prompt.encode())
    return (crc >> 16) & 0xFF, (crc >> 8) & 0xFF, crc & 0xFF


def picture(prompt: str, size: str = "64x64") -> bytes:
    """A PNG of ``size`` ("WxH") in one colour chosen by ``prompt``."""
    width, height = (int(n) for n in size.split("x"))
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour_of(prompt)).save(out, "PNG")
    return out.getvalue()


def png_of(data: bytes) -> tuple[tuple[int, int], tuple[int, int, int]]:
    """A PNG's size and the colour of its first pixel (it must be a PNG)."""
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG", image.format
        rgb = image.convert("RGB")
        pixel = rgb.getpixel((0, 0))
        assert isinstance(pixel, tuple)
        return image.size, (pixel[0], pixel[1], pixel[2])
