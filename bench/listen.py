"""Speech to text: raw faster-whisper in this process against ``/v1/audio/transcriptions``
through literai's server and the official ``openai`` client, on the same utterances in
the same run. The utterances are sentences literai's own Piper voice speaks (made by
the server first), 2 to 6 seconds each.

    .venv/bin/python -m bench.listen [--runs 2]

Reports, per side: latency p50/p95 per utterance, the real-time factor (seconds of work
per second of audio) and the word error rate against the sentences; then the server's
overhead (its p50 over raw's). Runs alternate sides. Last line: JSON.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import tempfile
import time
import wave
from pathlib import Path

import numpy as np
import openai

from bench.report import pct
from bench.scores import word_error_rate as wer
from bench.text import start_server

SENTENCES = [
    "The old teletype printed the morning news on a long roll of yellow paper.",
    "Please ring the bell when the harbor lights come on.",
    "My cat is called Miso and she hates the vacuum cleaner.",
    "The operator sent a short message to the station across the valley.",
    "A quiet train crossed the river just before the storm.",
    "Keep the ribbon dry or the letters will fade by summer.",
    "We will read the next chapter of the story tomorrow night.",
    "The engineer checked every relay on the line before dawn.",
    "Thanks for the raid, everyone, and welcome to the stream.",
    "Which game should we play after the speedrun is over?",
]


def _seconds(wav: bytes) -> float:
    with wave.open(io.BytesIO(wav)) as w:
        return w.getnframes() / w.getframerate()


def _samples(wav: bytes) -> np.ndarray:
    """16 kHz float32, as the server's ffmpeg makes it (the raw side gets the same)."""
    import subprocess

    out = subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", "pipe:0", "-f", "f32le", "-ac", "1",
         "-ar", "16000", "pipe:1"],
        input=wav, capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(out, dtype="<f4")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=2, help="passes over the utterances")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    from faster_whisper import WhisperModel

    from inference_server.transcription import _packaged

    raw_model = WhisperModel(str(_packaged()), device="cpu", compute_type="int8",
                             cpu_threads=2, local_files_only=True)  # fmt: skip
    times: dict[str, list[float]] = {"raw": [], "server": []}
    heard: dict[str, list[float]] = {"raw": [], "server": []}
    audio_s = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_server(2, Path(tmp))
        try:
            client = openai.OpenAI(base_url=base + "/v1", api_key="none", max_retries=0)
            wavs = [client.audio.speech.create(model="tts-1", voice="joe", input=s,
                                               response_format="wav").read()
                    for s in SENTENCES]  # fmt: skip
            client.audio.transcriptions.create(model="whisper-1", file=("w.wav", wavs[0]))  # load
            for _ in range(args.runs):
                for said, wav in zip(SENTENCES, wavs, strict=True):
                    audio_s += _seconds(wav)
                    t0 = time.perf_counter()
                    segments, _ = raw_model.transcribe(
                        _samples(wav), language="en", beam_size=1,
                        condition_on_previous_text=False,
                    )  # fmt: skip
                    text = "".join(s.text for s in segments)
                    times["raw"].append(time.perf_counter() - t0)
                    heard["raw"].append(wer(said, text))
                    t0 = time.perf_counter()
                    got = client.audio.transcriptions.create(model="whisper-1", file=("u.wav", wav))
                    times["server"].append(time.perf_counter() - t0)
                    heard["server"].append(wer(said, got.text))
        finally:
            proc.terminate()
            proc.wait(30)
    fig: dict[str, object] = {}
    print(f"{len(SENTENCES)} utterances x {args.runs}, {audio_s / args.runs:.1f} s of audio a pass")
    print(f"{'':10}{'p50 ms':>10}{'p95 ms':>10}{'RTF':>8}{'WER':>8}")
    for side in ("raw", "server"):
        t = times[side]
        rtf = sum(t) / audio_s
        row = {"p50_ms": round(pct(t, 0.5) * 1000), "p95_ms": round(pct(t, 0.95) * 1000),
               "rtf": round(rtf, 3),
               "wer": round(sum(heard[side]) / len(heard[side]), 3)}  # fmt: skip
        fig[side] = row
        print(f"{side:10}{row['p50_ms']:>10}{row['p95_ms']:>10}{row['rtf']:>8}{row['wer']:>8}")
    ratio = pct(times["server"], 0.5) / pct(times["raw"], 0.5)
    print(json.dumps({**fig, "server_over_raw_p50": round(ratio, 3), "runs": args.runs,
                      "date": datetime.date.today().isoformat()}))  # fmt: skip


if __name__ == "__main__":
    main()
