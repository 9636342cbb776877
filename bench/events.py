"""Lines thanking a stream's events: the kind's template against the line the embedded
model writes (``twitch.events.<kind>.mode: model``), on a fixed set of 12 events (each
kind with one viewer and with a batch of several), with literai's server on the
embedded model.

    .venv/bin/python -m bench.events [--seeds 3]

Scores, written apart from the guard (bench/scores.py): the share of lines that name
every viewer shown in the template's line, that end a sentence, that echo the
instruction or the persona (a run of 5 words), that are degenerate (a loop, a cut word),
and, for the model, how often the guard refused its line so the template was posted
instead (the template is the baseline: same events, same run). Last line: JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import tempfile
from pathlib import Path
from typing import Any

import openai

from bench.scores import degenerate, instruction_echo, unfinished, words
from bench.text import start_server
from literai_core.chat import Reply
from literai_core.core import ChatCore
from literai_core.events import DEFAULTS, EventSettings, Reactions, StreamEvent, who
from literai_core.inference import OpenAIInference
from literai_core.settings import BotSettings

SET: list[tuple[str, list[str], int]] = [  # kind, viewers, amount in all
    ("follow", ["mara_k"], 1), ("follow", ["tapehead", "Lin", "ozzy99", "quill"], 4),
    ("raid", ["TeletypeTom"], 42), ("raid", ["wirewitch"], 7),
    ("sub", ["bellringer"], 1), ("sub", ["Ada", "carriage_ret"], 2),
    ("resub", ["old_operator"], 1), ("resub", ["nightclerk", "Sam"], 2),
    ("gift", ["papertrail"], 5), ("gift", ["harbor_lamp", "relay", "Vee"], 12),
    ("cheer", ["keyboardist"], 500), ("cheer", ["signal", "the_station"], 150),
]  # fmt: skip


class Posted:
    """A stand-in twitch adapter: the lines the reactions post."""

    platform = "twitch"

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.more = asyncio.Event()

    def components(self) -> list[Any]:
        return []

    async def announce(self, reply: Reply) -> None:
        self.lines.append(await reply.text())
        self.more.set()


async def _lines(api: openai.AsyncOpenAI, mode: str) -> tuple[list[str], int]:
    """One line per event of SET in ``mode``; and how many fell back to the template."""
    core = ChatCore(BotSettings(), OpenAIInference(api, "smollm2"))  # type: ignore[call-arg]
    posted = Posted()
    core.attach(posted)
    on = {kind: {"mode": mode} for kind in DEFAULTS}
    reactions = Reactions(core, EventSettings(gather_s=0, **on))  # type: ignore[arg-type]
    fallbacks = 0
    for n, (kind, viewers, amount) in enumerate(SET):
        share = [amount // len(viewers)] * len(viewers)
        for name, part in zip(viewers, share, strict=True):
            reactions.offer(StreamEvent(kind, "twitch", f"#c{n}", name, part))  # type: ignore[arg-type]
        while len(posted.lines) <= n:
            posted.more.clear()
            await posted.more.wait()
        template = DEFAULTS[kind].format(users=who(viewers), count=len(viewers), amount=amount)
        fallbacks += mode == "model" and posted.lines[n] == template
    await core.aclose()
    return posted.lines, fallbacks


def _scores(lines: list[str]) -> dict[str, float]:
    persona = BotSettings().persona  # type: ignore[call-arg]
    ask = "In one short, warm sentence for the stream chat, thank"
    named = [
        all(v.lower() in line.lower() for v in viewers[:3])
        for (_, viewers, _), line in zip(SET, lines, strict=True)
    ]
    n = len(lines)
    return {
        "names_all": round(sum(named) / n, 3),
        "finished": round(sum(not unfinished(line) for line in lines) / n, 3),
        "echo": round(sum(instruction_echo(line, [persona, ask]) for line in lines) / n, 3),
        "degenerate": round(sum(bool(degenerate(line)) for line in lines) / n, 3),
        "words_mean": round(sum(len(words(line)) for line in lines) / n, 1),
    }


async def run(base: str, seeds: int) -> dict[str, Any]:
    async with openai.AsyncOpenAI(base_url=base, api_key="none", max_retries=0) as api:
        template, _ = await _lines(api, "template")
        model_lines: list[str] = []
        fallbacks = 0
        for _ in range(seeds):  # sampled at temperature 0.7: a few rounds
            lines, fell = await _lines(api, "model")
            model_lines += lines
            fallbacks += fell
    return {
        "template": _scores(template),
        "model": {
            **_scores_many(model_lines, seeds),
            "fallback": round(fallbacks / (len(SET) * seeds), 3),
        },
        "examples": model_lines[: len(SET)],
    }


def _scores_many(lines: list[str], seeds: int) -> dict[str, float]:
    rounds = [_scores(lines[i * len(SET) : (i + 1) * len(SET)]) for i in range(seeds)]
    return {k: round(sum(r[k] for r in rounds) / seeds, 3) for k in rounds[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3, help="rounds of model lines")
    args = ap.parse_args()
    if args.seeds < 1:
        ap.error("--seeds must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_server(2, Path(tmp))
        try:
            fig = asyncio.run(run(base + "/v1", args.seeds))
        finally:
            proc.terminate()
            proc.wait(30)
    keys = ("names_all", "finished", "echo", "degenerate", "words_mean", "fallback")
    print(f"{'':14}{'template':>10}{'model':>10}")
    for key in keys:
        t = fig["template"].get(key, 0.0)
        print(f"{key:14}{t!s:>10}{fig['model'][key]!s:>10}")
    for line in fig["examples"]:
        print("  model:", line)
    print(json.dumps({**fig, "seeds": args.seeds, "date": datetime.date.today().isoformat()}))


if __name__ == "__main__":
    main()
