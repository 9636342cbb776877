"""Answer quality of ``!ask`` and ``!gpt2`` on a fixed set, variants side by side.

    .venv/bin/python -m bench.answers [--seeds 2] [--variants a,b] [--limit N]

Each item of ``bench/data/answers.jsonl`` (fact questions, questions whose answer is in
the chat window, format instructions, busy windows that invite an echo, ``!gpt2``
continuations) goes through the product's own path: a ``ChatCore`` with the variant's
bot settings, the item's window said as chat, then the command, against literai's server
on the embedded model (the three model files served at once). Every variant sees the
same items with the same seeds (each model call's seed is fixed by item, seed and call).

Scores, per item, by ``bench/scores.py`` (written apart from the product's guard):
echo (the reply holds a chat line, a ``name:`` label, the persona or the prompt's own
words), degenerate (empty, repeating itself, cut mid-word), format compliance (format
items), fact hit (fact items), context use (fact hit on items whose answer is in the
window), length. ``raw_echo`` scores the model's first output before the guard: what
the guard had to stop. A reply the guard left empty (the "nothing to add" notice)
counts as empty, so as degenerate. A ``!gpt2`` line that ends on a bare word is cut
only when the token limit stopped it, not when the model ended the line itself
(``line_ended``); ``gpt2_unended`` reports how many lines have no end mark at all. The
last line is JSON with the figures of the shipped defaults (variant ``defaults``) and
of every variant.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import openai
from tqdm import tqdm

from bench import scores
from bench.report import report
from bots.voice.settings import VoiceSettings
from inference_server.model_files import converted_model_path, resolve_model_path
from inference_server.models import convert_gguf
from inference_server.settings import ModelSettings
from literai_core.chat import ChatLine, ReplyKind
from literai_core.core import ChatCore
from literai_core.inference import Generation, Inference, OpenAIInference
from literai_core.prompts import CHAT_HEAD
from literai_core.settings import BotSettings
from tests.kit.server import start_server, stop_server, write_config

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data" / "answers.jsonl"
# name -> (model file, bot setting overrides). "defaults" is what ships.
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "defaults": ("q8_0", {}),
    # The same settings on the repacked Q4_0 copy (faster) and the packaged Q4_1 file.
    "q4_0": ("q4_0", {}),
    "q4_1": ("q4_1", {}),
    # !ask: the defaults before 2026-11-30, then one change at a time from today's.
    "old-t0.8-user-names": (
        "q8_0",
        {"ask": {"temperature": 0.8, "top_p": 0.95, "window_in": "user", "names": True}},
    ),
    "t0.2-system": ("q8_0", {"ask": {"window_in": "system"}}),
    "t0.2-names": ("q8_0", {"ask": {"names": True}}),
    "t0.2-2lines": ("q8_0", {"ask": {"lines": 2}}),
    "t0.2-nowindow": ("q8_0", {"ask": {"window_in": "none"}}),
    # Unnamed chat lines as "- text" read as a list that "name three ..." continues.
    "lines-plain": ("q8_0", {"ask": {"line_style": "plain"}}),
    "lines-quoted": ("q8_0", {"ask": {"line_style": "quoted"}}),
    # Later sentences of a small model drift and go round ("which is a ..." thrice):
    # the shipped cap is 3.
    "ask-nocap": ("q8_0", {"ask": {"max_sentences": 0}}),
    "ask-2sent": ("q8_0", {"ask": {"max_sentences": 2}}),
    "t0.5": ("q8_0", {"ask": {"temperature": 0.5}}),
    "ask-retry1": ("q8_0", {"ask": {"retries": 1}}),
    # Lists and one-word answers sampled free and cut to shape afterwards, as before
    # structured outputs (2026-12-01).
    "ask-unshaped": ("q8_0", {"ask": {"shaped": False}}),
    # !gpt2 alone (--kinds gpt2): its sampling and how often it is written again.
    "gpt2-t0.6": ("q8_0", {"gpt2": {"temperature": 0.6}}),
    "gpt2-t1.1": ("q8_0", {"gpt2": {"temperature": 1.1}}),  # with the shipped 3 retries
    "gpt2-retry1": ("q8_0", {"gpt2": {"retries": 1}}),
    # A line's token limit (40 ships; 60 before 2026-12-02): a line that runs on to
    # it is the soak's latency tail.
    "gpt2-60tok": ("q8_0", {"gpt2": {"max_tokens": 60}}),
    "gpt2-30tok": ("q8_0", {"gpt2": {"max_tokens": 30}}),
    # The voice page's answers: its spoken persona, each utterance on its own.
    "voice": ("q8_0", {"persona": VoiceSettings().persona, "ask": {"window_in": "none"}}),
}


class Seeded:
    """The product's inference, with each call's seed fixed and its raw text kept."""

    def __init__(self, inner: Inference, seed: int) -> None:
        self.inner, self.seed, self.raw = inner, seed, []  # type: list[str]

    def _gen(self, gen: Generation) -> Generation:
        return dataclasses.replace(gen, seed=self.seed + 7919 * len(self.raw))

    def stream_chat(
        self, messages: Any, gen: Generation, *, user: Any = None
    ) -> AsyncIterator[str]:
        return self._kept(lambda: self.inner.stream_chat(messages, self._gen(gen), user=user))

    def stream_completion(
        self, prompt: str, gen: Generation, *, user: Any = None
    ) -> AsyncIterator[str]:
        return self._kept(lambda: self.inner.stream_completion(prompt, self._gen(gen), user=user))

    async def _kept(self, call: Callable[[], AsyncIterator[str]]) -> AsyncIterator[str]:
        """Relay one call's pieces, keeping its raw text; the call is made (and its seed
        fixed) when the stream is first read, as the real client does."""
        self.raw.append("")
        n = len(self.raw) - 1
        async for piece in call():
            self.raw[n] += piece
            yield piece

    async def speech(self, text: str, *, voice: str, model: str) -> bytes:
        raise NotImplementedError

    async def image(self, prompt: str, *, size: str) -> bytes:
        raise NotImplementedError

    async def models(self) -> list[str]:
        return await self.inner.models()


def settings_for(overrides: dict[str, Any]) -> BotSettings:
    base = BotSettings()
    data = base.model_dump()
    for key, value in overrides.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) else value
    # Every item is its own viewer in its own channel: no limit may refuse one.
    data.update(user_cooldown_s=0, channel_cooldown_s=0, user_commands=1000)
    return BotSettings(**data)


async def run_item(
    item: dict[str, Any], settings: BotSettings, inference: Seeded
) -> dict[str, Any]:
    core = ChatCore(settings, inference)
    channel, t = f"#{item['id']}", 0.0
    try:
        for name, text in item["window"]:
            t += 1
            await core.handle(ChatLine("twitch", channel, name, text, t))
        command = f"!{item['command']} {item['text']}"
        reply = await core.handle(ChatLine("twitch", channel, item["user"], command, t + 1))
        said = await reply.text() if reply is not None else ""
        kind = reply.kind if reply is not None else None
    finally:
        await core.aclose()
    return score_item(item, said if kind is ReplyKind.ANSWER else "", inference.raw, settings)


def score_item(
    item: dict[str, Any], said: str, raw: list[str], settings: BotSettings
) -> dict[str, Any]:
    lead = item["text"] if item["command"] == "gpt2" else ""
    own = said[len(lead) :].strip() if lead and said.startswith(lead) else said
    # The prompt's lines: the window, and an !ask's question (repeating it is an echo).
    transcript = [text for _, text in item["window"]] + ([item["text"]] if not lead else [])
    names = [name for name, _ in item["window"]] + [item["user"]]
    echo = scores.echo(own, transcript=transcript, persona=settings.persona, names=names,
                       instructions=[CHAT_HEAD])  # fmt: skip
    first = raw[0] if raw else ""
    reasons = scores.degenerate(own)
    if lead and "cut" in reasons and line_ended(own, raw):
        reasons.remove("cut")  # a chat line the model ended itself: not cut off
    raw_echo = scores.echo(first, transcript=transcript, persona=settings.persona, names=names,
                           instructions=[CHAT_HEAD])  # fmt: skip
    return {
        "id": item["id"], "kind": item["kind"], "reply": said, "raw": first,
        "echo": echo, "raw_echo": bool(raw_echo), "degenerate": reasons,
        "unended": scores.unfinished(own),
        "format_ok": scores.format_ok(said, item["format"]) if item["kind"] == "format" else None,
        "hit": scores.fact_hit(said, item["accepted"]) if item["accepted"] else None,
        "chars": len(said), "calls": len(raw),
    }  # fmt: skip


def line_ended(own: str, raw: list[str]) -> bool:
    """Whether a ``!gpt2`` line without an end mark is one the model ended itself: some
    call's output, past leading line breaks, is that line (the same words) and then a
    line break, rather than text stopped by the token limit. Chat lines often end on a
    bare word ("good morning from Wales"); the degenerate rule "cut" is for text cut
    off, which such a line is not."""
    mine = scores.words(own)
    for text in raw:
        line, newline, _ = text.lstrip().partition("\n")
        if newline and mine and scores.words(line) == mine:
            return True
    return False


def figures(rows: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    def rate(values: list[bool]) -> float:
        return round(sum(values) / len(values), 3) if values else float("nan")

    return {
        "answered": rate([bool(r["reply"]) for r in rows]),  # not a notice or an error
        "echo_rate": rate([bool(r["echo"]) for r in rows]),
        "raw_echo_rate": rate([r["raw_echo"] for r in rows]),
        "degenerate_rate": rate([bool(r["degenerate"]) for r in rows]),
        "format_compliance": rate([r["format_ok"] for r in rows if r["kind"] == "format"]),
        "fact_hit": rate([r["hit"] for r in rows if r["kind"] == "fact"]),
        "context_use": rate([r["hit"] for r in rows if r["kind"] == "context"]),
        "gpt2_unended": rate([r["unended"] for r in rows if r["kind"] == "gpt2"]),
        "mean_chars": round(sum(r["chars"] for r in rows) / len(rows), 1),
        "calls_per_item": round(sum(r["calls"] for r in rows) / len(rows), 2),
        "seconds": round(seconds, 1),
    }


async def run_variant(
    name: str, client: openai.AsyncOpenAI, items: list[dict[str, Any]], seeds: int, bar: tqdm
) -> list[dict[str, Any]]:
    model, overrides = VARIANTS[name]
    settings = settings_for(overrides)
    gate = asyncio.Semaphore(4)

    async def one(n: int, item: dict[str, Any], seed: int) -> dict[str, Any]:
        async with gate:
            inference = Seeded(OpenAIInference(client, model), 1000 * seed + n)
            row = await run_item(item, settings, inference)
            bar.update()
            return {**row, "seed": seed, "variant": name}

    jobs = [one(n, item, seed) for seed in range(seeds) for n, item in enumerate(items)]
    return list(await asyncio.gather(*jobs))


def model_files(cache: Path) -> dict[str, Path]:
    """The three files: the packaged Q4_1 and the Q8_0 (the shipped default) and Q4_0
    copies ``literai model convert`` makes, taken from data/models when made there,
    else made once into ``cache``."""
    packaged = resolve_model_path("smollm2", ModelSettings())
    files = {"q4_1": packaged}
    for quant in ("q8_0", "q4_0"):
        made = converted_model_path("smollm2", ROOT / "data", quant)
        files[quant] = made if made.is_file() else cache / made.name
        if not files[quant].is_file():
            convert_gguf(packaged, files[quant], ftype=quant)
    return files


def table(results: dict[str, dict[str, Any]]) -> None:
    keys = ["answered", "echo_rate", "raw_echo_rate", "degenerate_rate", "format_compliance",
            "fact_hit", "context_use", "gpt2_unended", "mean_chars", "calls_per_item",
            "seconds"]  # fmt: skip
    print(f"{'variant':16}" + "".join(f"{k[:12]:>13}" for k in keys))
    for name, fig in results.items():
        print(f"{name:16}" + "".join(f"{fig[k]:>13}" for k in keys))


async def run_all(
    base_url: str, names: list[str], items: list[dict[str, Any]], seeds: int
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    results: dict[str, dict[str, Any]] = {}
    rows_all: list[dict[str, Any]] = []
    bar = tqdm(total=len(names) * len(items) * seeds, unit="answer", file=sys.stderr)
    async with openai.AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0) as client:
        for name in names:
            start = time.perf_counter()
            rows = await run_variant(name, client, items, seeds, bar)
            results[name] = figures(rows, time.perf_counter() - start)
            rows_all += rows
    bar.close()
    return results, rows_all


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--limit", type=int, default=0, help="first N items only (0: all)")
    parser.add_argument("--kinds", default="", help="only these item kinds (comma-separated)")
    parser.add_argument("--cache", type=Path, default=ROOT / "data" / "bench")
    parser.add_argument("--out", type=Path, help="every reply and its scores, as JSONL")
    args = parser.parse_args()
    names = [n for n in args.variants.split(",") if n]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    items = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    if args.kinds:
        kinds = set(args.kinds.split(","))
        known = sorted({item["kind"] for item in items})
        if not kinds <= set(known):
            parser.error(f"unknown kinds {sorted(kinds - set(known))}; known: {', '.join(known)}")
        items = [item for item in items if item["kind"] in kinds]
    items = items[: args.limit] if args.limit else items
    args.cache.mkdir(parents=True, exist_ok=True)
    files = model_files(args.cache)
    models = {name: {"path": str(path), "slots": 4} for name, path in files.items()}
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(
            Path(tmp), server={"port": 0, "default_model": "q8_0", "models": models}
        )
        server = start_server(config, capture_stderr=False)
        try:
            results, rows = asyncio.run(run_all(server.v1, names, items, args.seeds))
        finally:
            stop_server(server)
    if args.out is not None:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    table(results)
    chosen = results.get("defaults") or next(iter(results.values()))
    report(
        f"answers: {len(items)} items x {args.seeds} seeds, chosen defaults",
        chosen,
        list(chosen),
        items=len(items),
        seeds=args.seeds,
        variants=results,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
