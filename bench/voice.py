"""Voice: how long after someone stops talking the answer starts to sound, on the same
utterances in the same run, two ways:

- naive: the whole utterance transcribed (``/v1/audio/transcriptions``), then the whole
  answer (``/v1/chat/completions``, the bot's persona and ``!ask`` settings), then the
  whole speech (``/v1/audio/speech``), through the official ``openai`` client. It is
  given its end of speech for free (as if a button was released at the last syllable);
- literai: the voice page's WebSocket (``bots/voice``), fed in real time as a
  microphone feeds it, with the product's defaults: the end-pointer's wait, the
  transcription begun at the first pause, the answer streamed through the chat core and
  spoken sentence by sentence.

Utterances are questions literai's own Piper voice speaks (2 to 6 s, trimmed of their
silence, so the end of speech is the last voiced sample). Times run from that end to the
first audio byte, and to the last. The server is literai's own, with the packaged
SmolLM2, Piper and Whisper tiny.en, all on this machine's cores.

    .venv/bin/python -m bench.voice [--rounds 1]

Prints a table (p50/p95 of both, the share of each stage of literai's first audio, the
transcription's real-time factor); the last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import numpy as np
import openai
from pydantic import ValidationError

from bench.report import pct
from bench.text import start_server
from bots.voice.session import wav_of
from bots.voice.settings import VoiceSettings
from literai_core.inference import OpenAIInference
from literai_core.settings import BotSettings
from tests.kit.media import wav_seconds
from tests.kit.voice import RATE, Microphone, microphone, pcm16k, silence, voice_page

MODEL = "smollm2"
QUESTIONS = [  # 2 to 6 seconds each in Piper's voice
    "Hey, how does an old teletype actually work?",
    "I just adopted a kitten, what should I name my new cat?",
    "Can you tell me a fun fact about the moon that most people don't know?",
    "What game do you think we should play after this one is over?",
    "Why is the sky blue during the day but red at sunset?",
    "Do you think it will rain tomorrow, or should I plan a picnic?",
    "What kind of music do you like to listen to while streaming?",
    "How many legs does a spider have, and why so many?",
    "Could you suggest a good snack for a long night of coding?",
    "What is the best way to start learning to play the guitar?",
    "Tell me something nice about the people in this chat tonight.",
    "Why did the old printer ring a bell at the end of each line?",
]
TARGETS = {"p50": 1000, "p95": 1500, "ratio": 0.5}


@dataclass
class Sides:
    first: dict[str, list[float]] = field(default_factory=lambda: {"naive": [], "literai": []})
    last: dict[str, list[float]] = field(default_factory=lambda: {"naive": [], "literai": []})
    stages: dict[str, list[float]] = field(default_factory=dict)
    stt_s: list[float] = field(default_factory=list)
    cut: int = 0  # utterances the end-pointer ended early (heard again whole)
    waited: list[float] = field(default_factory=list)  # ms a draft's words waited for the end
    early: list[float] = field(default_factory=list)  # ms an answer was begun before the end
    audio_s: list[float] = field(default_factory=list)

    def stage(self, name: str, ms: float) -> None:
        self.stages.setdefault(name, []).append(ms)


def trimmed(samples: np.ndarray, level: int = 300) -> np.ndarray:
    """Without the silence before and after the voice (20 ms windows under ``level``)."""
    win = 320
    loud = [
        i for i in range(0, len(samples) - win, win) if np.abs(samples[i : i + win]).max() > level
    ]
    return samples[loud[0] : loud[-1] + win] if loud else samples


async def naive(
    client: openai.AsyncOpenAI, bot: BotSettings, samples: np.ndarray, sides: Sides
) -> None:
    """``bot.persona`` is the voice channel's, so only the pipeline differs."""
    t0 = time.monotonic()
    heard = await client.audio.transcriptions.create(
        model="whisper-1", file=("u.wav", wav_of(samples))
    )
    t1 = time.monotonic()
    gen = bot.ask
    answer = await client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": bot.persona},
                  {"role": "user", "content": heard.text}],
        max_tokens=gen.max_tokens, temperature=gen.temperature, top_p=gen.top_p,
        frequency_penalty=gen.frequency_penalty,
    )  # fmt: skip
    text = answer.choices[0].message.content or "..."
    audio = await client.audio.speech.create(model=bot.speech_model, voice=bot.voice, input=text)
    await audio.aread()  # all of it: the naive side plays nothing before the whole file
    t2 = time.monotonic()
    sides.first["naive"].append((t2 - t0) * 1000)
    sides.last["naive"].append((t2 - t0) * 1000)  # all of it arrives at once
    sides.stt_s.append(t1 - t0)


async def calls(base: str) -> tuple[float, float]:
    """(chat completions, transcriptions) the server has answered so far."""
    async with aiohttp.ClientSession() as http, http.get(base + "/metrics") as got:
        text = await got.text()

    def total(route: str) -> float:
        pattern = r'^literai_requests_total\{route="' + re.escape(route) + r'",[^}]*\} (\S+)$'
        return sum(float(m) for m in re.findall(pattern, text, re.M))

    return total("/v1/chat/completions"), total("/v1/audio/transcriptions")


async def _last_turn(mic: Microphone, since: int) -> int:
    """The turn that answers what was just said: the last one heard since event
    ``since``, once its answer is done and no newer one began (an utterance the
    end-pointer cut in two is heard again whole, as a later turn)."""
    while True:
        heard = [e["turn"] for _, e in mic.heard.events[since:] if e["type"] == "heard"]
        if heard:
            turn = heard[-1]
            await mic.wait_for("done", turn, limit_s=120)
            await asyncio.sleep(0.3)
            later = [e["turn"] for _, e in mic.heard.events[since:] if e["type"] == "heard"]
            if later[-1] == turn:
                return turn
        else:
            await asyncio.sleep(0.05)


async def streamed(mic: Microphone, samples: np.ndarray, sides: Sides, base: str) -> None:
    """Long because: say it, find the turn that answered, listen to the answer to its
    end (as the page would, then say so), and book each figure: one sequence."""
    before, since = await calls(base), len(mic.heard.events)
    lead = silence(0.4)
    await mic.say(
        np.concatenate([lead, samples, silence(1.2)]), speech_ends=len(lead) + len(samples)
    )
    turn = await _last_turn(mic, since)
    done = mic.heard.of("done", turn)[0]
    turns = len({e["turn"] for _, e in mic.heard.events[since:] if e["type"] == "heard"})
    sides.cut += turns > 1
    audio = [(t, wav) for t, meta, wav in mic.heard.audio if meta["turn"] == turn]
    if not audio:
        print(f"  turn {turn}: no audio ({done.get('kind')}: {done.get('text')!r})")
        return
    first, last = (audio[0][0] - mic.spoke_until) * 1000, (audio[-1][0] - mic.spoke_until) * 1000
    played = audio[0][0] + sum(wav_seconds(wav) for _, wav in audio)
    await asyncio.sleep(max(0.0, played - time.monotonic()))
    await mic.ws.send_json({"type": "played", "turn": turn})
    sides.first["literai"].append(first)
    sides.last["literai"].append(last)
    timing = done.get("timing", {})
    after = await calls(base)
    chats, heard = after[0] - before[0], after[1] - before[1]
    print(f"  turn {turn}: {first:.0f} ms, {chats:.0f} model call(s), {heard:.0f} "
          f"transcription(s), {turns} turn(s), {timing}")  # fmt: skip
    if "words_waited_ms" in timing:
        sides.waited.append(timing["words_waited_ms"])
    if "early_ms" in timing:
        sides.early.append(timing["early_ms"])
    if {"heard_ms", "first_text_ms", "first_audio_ms"} <= timing.keys():
        sides.stage("end of speech found", first - timing["first_audio_ms"])
        sides.stage("transcription left", timing["heard_ms"])
        sides.stage("first sentence written", timing["first_text_ms"] - timing["heard_ms"])
        sides.stage("first sentence spoken", timing["first_audio_ms"] - timing["first_text_ms"])


def _settings(args: argparse.Namespace) -> VoiceSettings:
    given: dict[str, object] = {}
    if args.end_ms is not None:
        given["end_ms"] = args.end_ms
    if args.persona == "bot":
        given["persona"] = ""
    return VoiceSettings(**given)  # type: ignore[arg-type]


async def measure(
    base: str, rounds: int, settings: VoiceSettings, lines: int | None = None
) -> Sides:
    """Long because: one server, one page, warm-ups, then the utterances in turn, each
    through both sides, read best as the one sequence it is."""
    client = openai.AsyncOpenAI(base_url=base + "/v1", api_key="none", max_retries=0, timeout=120)
    bot = BotSettings()  # the product's defaults; the naive side speaks as the page does
    if lines is not None:
        bot = bot.model_copy(update={"ask": bot.ask.model_copy(update={"lines": lines})})
    persona = BotSettings(persona=settings.persona) if settings.persona else bot
    spoken = []
    for q in QUESTIONS:
        wav = (await client.audio.speech.create(model="tts-1", voice="joe", input=q)).content
        spoken.append(trimmed(pcm16k(wav)))
    runner, url, _ = await voice_page(OpenAIInference(client, MODEL), settings, bot=bot)
    sides = Sides()
    try:
        async with microphone(url) as mic:
            warm = Sides()  # model loads and first calls: not counted
            await naive(client, persona, spoken[0], warm)
            await streamed(mic, spoken[0], warm, base)
            for r in range(rounds):
                for i, samples in enumerate(spoken):
                    await naive(client, persona, samples, sides)
                    await streamed(mic, samples, sides, base)
                    sides.audio_s.append(len(samples) / RATE)
                    ours = sides.first["literai"][-1] if sides.first["literai"] else float("nan")
                    print(f"  round {r + 1}, utterance {i + 1}/{len(spoken)}: naive "
                          f"{sides.first['naive'][-1]:.0f} ms, literai {ours:.0f} ms",
                          flush=True)  # fmt: skip
    finally:
        await runner.cleanup()
        await client.close()
    return sides


def report(sides: Sides, rounds: int) -> None:
    n = len(sides.audio_s)
    print(f"\n{n} utterances ({min(sides.audio_s):.1f}-{max(sides.audio_s):.1f} s of speech), "
          f"{rounds} round(s)")  # fmt: skip
    heads = f"{'first audio p50':>16}{'p95':>8}{'last audio p50':>16}{'p95':>8}"
    print(f"{'from end of speech':26}{heads}")
    fig: dict[str, object] = {}
    for side in ("naive", "literai"):
        f, last = sides.first[side], sides.last[side]
        row = [pct(f, 0.5), pct(f, 0.95), pct(last, 0.5), pct(last, 0.95)]
        print(
            f"{side:26}" + "".join(f"{v:>{w}.0f}" for v, w in zip(row, (16, 8, 16, 8), strict=True))
        )
        fig[side] = [round(v) for v in row]
    total = sum(sum(v) / len(v) for v in sides.stages.values()) or 1.0
    print("\nliterai's first audio, by stage (mean ms, share):")
    shares = {}
    for name, values in sides.stages.items():
        mean = sum(values) / len(values)
        shares[name] = round(mean / total, 3)
        print(f"  {name:28}{mean:>8.0f}{mean / total:>8.0%}")
    stt_rtf = sum(sides.stt_s) / sum(sides.audio_s)
    if sides.waited:
        print(f"\nthe first pause's words were ready before the end of speech in "
              f"{len(sides.waited)} of {n} turns, waiting for it p50 {pct(sides.waited, 0.5):.0f}"
              f" ms (min {min(sides.waited):.0f}, max {max(sides.waited):.0f})")  # fmt: skip
    if sides.early:
        ahead = pct(sides.early, 0.5)
        print(f"answers begun at the pause (voice.answer_early), unseen until the end: "
              f"{len(sides.early)} of {n}, p50 {ahead:.0f} ms before it")  # fmt: skip
    print(f"\nutterances the end-pointer cut in two (heard again whole): {sides.cut}")
    print(f"transcription real-time factor (naive's, whole utterances): {stt_rtf:.3f}")
    p50, p95 = pct(sides.first["literai"], 0.5), pct(sides.first["literai"], 0.95)
    naive50 = pct(sides.first["naive"], 0.5)
    ratio = p50 / naive50
    met = {
        "p50": p50 <= TARGETS["p50"],
        "p95": p95 <= TARGETS["p95"],
        "ratio": ratio <= TARGETS["ratio"],
    }
    print(f"targets: p50 <= {TARGETS['p50']} ms {'met' if met['p50'] else 'MISSED'}, "
          f"p95 <= {TARGETS['p95']} ms {'met' if met['p95'] else 'MISSED'}, "
          f"<= {TARGETS['ratio']}x naive {'met' if met['ratio'] else 'MISSED'}")  # fmt: skip
    print(json.dumps({
        "first_audio_ms_p50": round(p50), "first_audio_ms_p95": round(p95),
        "naive_first_audio_ms_p50": round(naive50), "ratio_vs_naive": round(ratio, 3),
        "stt_rtf": round(stt_rtf, 3), "last_audio_ms_p50": fig["literai"][2],  # type: ignore[index]
        "naive_last_audio_ms_p50": fig["naive"][2],  # type: ignore[index]
        "stage_shares": shares, "utterances": n, "cut_in_two": sides.cut, "targets_met": met,
        "begun_early": len(sides.early),
        "date": datetime.date.today().isoformat(),
    }))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=1, help="passes over the utterances")
    ap.add_argument(
        "--lines",
        type=int,
        default=None,
        help="bot.ask.lines: earlier lines in the prompt (default: its own)",
    )
    ap.add_argument("--end-ms", type=float, default=None, help="voice.end_ms (default: its own)")
    ap.add_argument(
        "--persona",
        choices=["voice", "bot"],
        default="voice",
        help="the voice channel's persona: voice.persona (default) or bot.persona",
    )
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    if args.lines is not None and not 0 <= args.lines <= 200:
        ap.error("--lines must be 0 to 200")
    try:
        settings = _settings(args)
    except ValidationError as exc:
        ap.error(f"--end-ms: {exc.errors()[0]['msg']}")
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_server(2, Path(tmp))
        try:
            sides = asyncio.run(measure(base, args.rounds, settings, args.lines))
        finally:
            proc.terminate()
            proc.wait(30)
    report(sides, args.rounds)


if __name__ == "__main__":
    main()
