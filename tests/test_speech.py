"""Speech through the real server: the real Piper voice (and espeak-ng), the official
openai client, and ffmpeg to decode every format."""

from __future__ import annotations

import array
import io
import math
import subprocess
import wave

import httpx2 as httpx
import openai
import pytest

from .kit.server import API_KEY, Server

pytestmark = pytest.mark.slow  # the subprocess server with Piper, espeak-ng and ffmpeg

TEXT = "Hello there. This is the teletype speaking. Good evening, chat!"


def _decode(data: bytes, fmt: str) -> tuple[int, array.array[int]]:
    """Decode with ffmpeg to 22,050 Hz mono 16-bit: (sample rate of the file, samples)."""
    if fmt == "pcm":
        return 22050, array.array("h", data)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=sample_rate", "-of", "csv=p=0", "-"],
        input=data, capture_output=True, check=True,
    )  # fmt: skip
    rate = int(probe.stdout.decode().split()[0])
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "-", "-f", "s16le", "-ac", "1", "-ar", "22050", "-"],
        input=data, capture_output=True, check=True,
    )  # fmt: skip
    return rate, array.array("h", out.stdout)


def _rms(samples: array.array[int]) -> float:
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


@pytest.mark.parametrize("fmt", ["wav", "mp3", "opus", "ogg", "aac", "flac", "pcm"])
def test_every_format_decodes_to_real_speech(client: openai.OpenAI, fmt: str) -> None:
    resp = client.audio.speech.create(
        model="tts-1",
        voice="joe",
        input=TEXT,
        response_format=fmt,  # type: ignore[arg-type]
    )
    rate, samples = _decode(resp.content, fmt)
    seconds = len(samples) / 22050
    assert rate == (48000 if fmt == "opus" else 22050)
    assert 2.0 < seconds < 10.0, seconds  # three short sentences
    assert _rms(samples) > 300, "that is silence"


def test_wav_header_and_speed(client: openai.OpenAI) -> None:
    def seconds(speed: float) -> float:
        data = client.audio.speech.create(
            model="tts-1", voice="alloy", input=TEXT, response_format="wav", speed=speed
        ).content
        with wave.open(io.BytesIO(data)) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (22050, 1, 2)
            return wav.getnframes() / wav.getframerate()

    normal, fast = seconds(1.0), seconds(2.0)
    assert fast < normal * 0.7, (normal, fast)


def test_espeak_voice_speaks_too(client: openai.OpenAI) -> None:
    data = client.audio.speech.create(
        model="tts-1", voice="robot", input="I am the robot voice.", response_format="wav"
    ).content
    _, samples = _decode(data, "wav")
    assert len(samples) > 22050 // 2
    assert _rms(samples) > 300


def test_voices_are_listed(server: Server) -> None:
    voices = httpx.get(
        server.v1 + "/audio/voices", headers={"Authorization": f"Bearer {API_KEY}"}
    ).json()["data"]
    by_id = {v["id"]: v for v in voices}
    assert by_id["joe"]["available"] and by_id["joe"]["backend"] == "piper"
    assert "alloy" in by_id["joe"]["aliases"]
    assert by_id["robot"]["backend"] == "espeak"


def test_streamed_speech_arrives_sentence_by_sentence_and_health_still_answers(
    server: Server,
) -> None:
    text = " ".join(f"This is sentence number {i}, spoken in turn." for i in range(12))
    body = {
        "model": "tts-1",
        "voice": "joe",
        "input": text,
        "response_format": "pcm",
        "stream": True,
    }
    headers = {"Authorization": f"Bearer {API_KEY}"}
    pieces = 0
    total = 0
    with httpx.stream(
        "POST", server.v1 + "/audio/speech", json=body, headers=headers, timeout=120
    ) as resp:
        assert resp.status_code == 200
        stream = resp.iter_raw()
        first = next(stream)
        assert first
        # The loop is not blocked by synthesis: /health answers while speech streams on.
        assert httpx.get(server.base_url + "/health", timeout=10).status_code == 200
        for chunk in stream:
            pieces += 1
            total += len(chunk)
    assert pieces >= 3, "audio should arrive in several pieces, not at the end"
    seconds = (len(first) + total) / 2 / 22050
    assert seconds > 12 * 1.0


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"input": ""}, "input"),
        ({"input": "   "}, "input"),
        ({"input": "x" * 5000}, "input"),
        ({"voice": "nobody"}, "voice"),
        ({"response_format": "wma"}, "response_format"),
        ({"speed": 10}, "speed"),
        ({"speed": "fast"}, "speed"),
        ({"stream_format": "sse"}, "stream_format"),
        ({"model": ""}, "model"),
    ],
)
def test_bad_speech_requests_are_400_naming_the_field(
    client: openai.OpenAI, extra: dict[str, object], param: str
) -> None:
    body = {"model": "tts-1", "voice": "joe", "input": "hi", **extra}
    with pytest.raises(openai.BadRequestError) as err:
        client.post("/audio/speech", body=body, cast_to=bytes)
    assert err.value.param == param
