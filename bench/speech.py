"""Speech: raw Piper in-process vs literai's /v1/audio/speech over HTTP with the official
openai client, in one run, same voice (en_US-joe-medium) and thread count.

    .venv/bin/python -m bench.speech [--runs 5] [--threads 2]

For a 3-sentence reply: real-time factor (synthesis time / audio length) raw and through
the server (WAV, whole file), time to the first audio byte streamed (PCM and MP3, sentence
by sentence) and not streamed (the whole file). Runs alternate raw and server. Prints a
table; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import openai

from bench.text import start_server
from inference_server.backends.speech import PiperBackend

REPLY = (
    "Good evening, chat, and welcome back to the stream. "
    "Tonight we are restoring an old teletype that has not printed a word since 1974. "
    "If it works, it will read your messages aloud, one clattering line at a time."
)


def raw_run(voice: PiperBackend) -> tuple[float, float]:
    """(rtf, first audio s) for the in-process voice."""
    t0 = time.perf_counter()
    first = None
    samples = 0
    for pcm in voice.synthesize(REPLY, 1.0):
        if first is None:
            first = time.perf_counter() - t0
        samples += len(pcm) // 2
    elapsed = time.perf_counter() - t0
    return elapsed / (samples / voice.sample_rate), first or elapsed


def server_full(client: openai.OpenAI) -> tuple[float, float]:
    """(rtf, first byte s) for a whole WAV file."""
    t0 = time.perf_counter()
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="joe", input=REPLY, response_format="wav"
    ) as resp:
        first = None
        data = b""
        for chunk in resp.iter_bytes():
            if first is None:
                first = time.perf_counter() - t0
            data += chunk
    elapsed = time.perf_counter() - t0
    seconds = (len(data) - 44) / 2 / 22050
    return elapsed / seconds, first or elapsed


def server_streamed(client: openai.OpenAI, fmt: str) -> float:
    """Seconds to the first audio byte of a streamed response."""
    t0 = time.perf_counter()
    with client.audio.speech.with_streaming_response.create(
        model="tts-1",
        voice="joe",
        input=REPLY,
        response_format=fmt,  # type: ignore[arg-type]
        extra_body={"stream": True},
    ) as resp:
        first = None
        for _ in resp.iter_bytes():
            if first is None:
                first = time.perf_counter() - t0
    return first if first is not None else float("nan")


def _report(
    args: argparse.Namespace,
    raw: list[tuple[float, float]],
    full: list[tuple[float, float]],
    pcm: list[float],
    mp3: list[float],
) -> None:
    """The table and the JSON line, from medians of the runs."""
    med = statistics.median
    fig = {
        "rtf_raw": round(med(r[0] for r in raw), 4),
        "rtf_server": round(med(f[0] for f in full), 4),
        "first_audio_s_raw": round(med(r[1] for r in raw), 3),
        "first_audio_s_streamed": round(med(pcm), 3),
        "first_audio_s_streamed_mp3": round(med(mp3), 3),
        "first_audio_s_full": round(med(f[1] for f in full), 3),
    }
    fig["ratio_rtf"] = round(fig["rtf_server"] / fig["rtf_raw"], 3)
    rows = [
        ("real-time factor (median)", fig["rtf_raw"], fig["rtf_server"]),
        ("first audio s, whole file", fig["first_audio_s_raw"], fig["first_audio_s_full"]),
        ("first audio s, streamed pcm", "", fig["first_audio_s_streamed"]),
        ("first audio s, streamed mp3", "", fig["first_audio_s_streamed_mp3"]),
    ]
    print(f"\n{'':30}{'raw Piper':>12}{'literai server':>16}")
    for name, a, b in rows:
        print(f"{name:30}{a!s:>12}{b!s:>16}")
    print(f"{'ratio_rtf (server/raw)':30}{'':>12}{fig['ratio_rtf']:>16}")
    print(
        json.dumps(
            {
                **fig,
                "runs": args.runs,
                "threads": args.threads,
                "voice": "en_US-joe-medium",
                "date": datetime.date.today().isoformat(),
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.runs < 1 or args.threads < 1:
        parser.error("--runs >= 1 and --threads >= 1")
    voice = PiperBackend("joe", None, n_threads=args.threads)
    voice.load()
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_server(args.threads, Path(tmp), speech_threads=args.threads)
        client = openai.OpenAI(base_url=base + "/v1", api_key="none", max_retries=0)
        try:
            raw_run(voice)  # warm both
            server_full(client)
            raw, full, pcm, mp3 = [], [], [], []
            for i in range(args.runs):
                raw.append(raw_run(voice))
                full.append(server_full(client))
                pcm.append(server_streamed(client, "pcm"))
                mp3.append(server_streamed(client, "mp3"))
                print(
                    f"run {i + 1}/{args.runs}: rtf raw {raw[-1][0]:.3f}, server "
                    f"{full[-1][0]:.3f}; first audio streamed {pcm[-1]:.3f} s",
                    file=sys.stderr,
                    flush=True,
                )
        finally:
            proc.terminate()
            proc.wait(30)

    _report(args, raw, full, pcm, mp3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
