"""Structured outputs under stress: does every answer held to a JSON schema parse and
validate, and what does holding it cost?

    .venv/bin/python -m bench.structured [--seeds 20] [--streams 8] [--reps 2]
        [--tool-seeds 3] [--chat-template FILE]

Against literai's server on the embedded model (8 slots), through the official client:

- validity: each of 10 schemas (objects, nesting, arrays of exact length, enums, tuples,
  unions, formats, patterns, ``$ref``) asked ``--seeds`` times at temperature 1 with
  ``response_format: json_schema``; each answer is parsed and checked by an independent
  validator (``jsonschema``). ``invalid`` counts answers that do not parse or validate,
  whatever the reason (a ``max_tokens`` cut included);
- tools: 6 questions a tool answers and 6 it does not, ``--tool-seeds`` times each, with
  ``tool_choice: auto`` (does it call the right tool, or one where none applies) and
  ``required`` (are the arguments valid); with ``--chat-template`` a template that has
  a tool format of its own (``<tool_call>`` blocks) tells the tools and holds the calls;
- cost: ``--streams`` concurrent streams held to a long list, against the same number of
  free streams of the same length (``ignore_eos``) in the same run, alternated
  ``--reps`` times; aggregate completion tokens per second of each, the median.

The last line is JSON with ``invalid``, ``answers``, ``ratio_constrained_8`` (held over
free tokens per second), both throughputs, ``auto_right_call``, ``auto_false_call`` and
``required_valid``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jsonschema
import openai
from tqdm import tqdm

from bench.report import report
from tests.kit.server import start_server, stop_server, write_config

MODEL = "smollm2"
SHORT = {"type": "string", "maxLength": 24}
SCHEMAS: list[tuple[str, str, dict[str, Any]]] = [
    ("pet", "Describe a pet.", {
        "type": "object",
        "properties": {"name": SHORT, "kind": {"enum": ["cat", "dog", "parrot"]},
                       "age": {"type": "integer"}, "vaccinated": {"type": "boolean"}},
        "required": ["name", "kind", "age", "vaccinated"], "additionalProperties": False}),
    ("person", "Invent a person and where they live.", {
        "type": "object",
        "properties": {"name": SHORT, "address": {
            "type": "object", "properties": {"city": SHORT, "zip": {"type": "string",
                                                                    "pattern": "^[0-9]{5}$"}},
            "required": ["city", "zip"], "additionalProperties": False}},
        "required": ["name", "address"], "additionalProperties": False}),
    ("fruits", "Name three fruits.", {
        "type": "array", "items": SHORT, "minItems": 3, "maxItems": 3}),
    ("mood", "How does the chat feel today?", {
        "type": "object", "properties": {"mood": {"enum": ["happy", "sad", "hyped", "calm"]}},
        "required": ["mood"], "additionalProperties": False}),
    ("point", "Give a point on a map as latitude, longitude and a label.", {
        "type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}, SHORT]}),
    ("either", "Give a number or a word.", {"anyOf": [{"type": "integer"}, SHORT]}),
    ("todo", "Write a short to-do list.", {
        "type": "object", "properties": {"items": {
            "type": "array", "maxItems": 4, "items": {
                "type": "object", "properties": {"task": SHORT, "done": {"type": "boolean"}},
                "required": ["task", "done"], "additionalProperties": False}}},
        "required": ["items"], "additionalProperties": False}),
    ("event", "Plan an event with a date and an id.", {
        "type": "object",
        "properties": {"title": SHORT, "date": {"type": "string", "format": "date"},
                       "id": {"type": "string", "format": "uuid"}},
        "required": ["title", "date", "id"], "additionalProperties": False}),
    ("colour", "Pick a colour as a hex code.", {
        "type": "object", "properties": {"hex": {"type": "string", "pattern": "^#[0-9a-f]{6}$"},
                                         "name": SHORT},
        "required": ["hex", "name"], "additionalProperties": False}),
    ("team", "Name a team of two players.", {
        "$defs": {"player": {"type": "object",
                             "properties": {"nick": SHORT, "level": {"type": "integer"}},
                             "required": ["nick", "level"], "additionalProperties": False}},
        "type": "object", "properties": {"captain": {"$ref": "#/$defs/player"},
                                         "second": {"$ref": "#/$defs/player"}},
        "required": ["captain", "second"], "additionalProperties": False}),
]  # fmt: skip
LONG = {"type": "array", "items": {"type": "string", "maxLength": 16}, "minItems": 40,
        "maxItems": 40}  # fmt: skip


CITY = {"type": "string", "maxLength": 30}
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": CITY},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "The current time in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": CITY},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    },
]
# (question, the tool a person would call, or None where none applies)
TOOL_ASKS = [
    ("What is the weather in Paris?", "get_weather"), ("Is it raining in Tokyo?", "get_weather"),
    ("How warm is it in Cairo today?", "get_weather"), ("What time is it in London?", "get_time"),
    ("What's the time in Sydney right now?", "get_time"), ("Tell me the time in Lima.", "get_time"),
    ("Tell me a joke.", None), ("Who wrote Hamlet?", None), ("Say hi to chat!", None),
    ("What is two plus two?", None), ("Name a colour.", None), ("Write a haiku about rain.", None),
]  # fmt: skip


def _format(name: str, schema: dict[str, Any]) -> Any:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


async def _one(api: openai.AsyncOpenAI, name: str, ask: str, schema: Any, seed: int) -> str:
    """Why the answer is invalid ("" when it parses and validates)."""
    resp = await api.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": ask}], temperature=1.0, seed=seed,
        max_tokens=400, response_format=_format(name, schema),
    )  # fmt: skip
    text = resp.choices[0].message.content or ""
    try:
        jsonschema.validate(json.loads(text), schema)
    except (ValueError, jsonschema.ValidationError) as exc:
        return f"{resp.choices[0].finish_reason}: {type(exc).__name__}: {text[:80]!r}"
    return ""


async def validity(api: openai.AsyncOpenAI, seeds: int) -> tuple[dict[str, int], list[str]]:
    gate = asyncio.Semaphore(8)
    bar = tqdm(total=len(SCHEMAS) * seeds, unit="answer", desc="validity")

    async def run(name: str, ask: str, schema: Any, seed: int) -> tuple[str, str]:
        async with gate:
            why = await _one(api, name, ask, schema, seed)
        bar.update()
        return name, why

    jobs = [run(n, a, s, seed) for n, a, s in SCHEMAS for seed in range(seeds)]
    done = await asyncio.gather(*jobs)
    bar.close()
    bad = {name: 0 for name, _, _ in SCHEMAS}
    for name, why in done:
        bad[name] += bool(why)
    return bad, [f"{name}: {why}" for name, why in done if why]


async def tool_use(api: openai.AsyncOpenAI, seeds: int) -> dict[str, float]:
    """How ``tool_choice: auto`` goes with the embedded model: how often it calls the
    right tool where one applies, calls one where none does, and how often a
    ``required`` call has valid arguments."""
    tally = {"right": 0, "expected": 0, "false": 0, "unexpected": 0, "valid": 0, "required": 0}

    gate = asyncio.Semaphore(8)

    async def one(ask: str, want: str | None, seed: int, choice: str) -> None:
        async with gate:
            resp = await api.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": ask}], tools=TOOLS,
                tool_choice=choice, temperature=0.2, seed=seed, max_tokens=120,
            )  # type: ignore[call-overload]  # fmt: skip
        calls = resp.choices[0].message.tool_calls or []
        if choice == "required":
            tally["required"] += 1
            tally["valid"] += bool(calls) and all(_args_ok(c) for c in calls)
        elif want is None:
            tally["unexpected"] += 1
            tally["false"] += bool(calls)
        else:
            tally["expected"] += 1
            tally["right"] += any(c.function.name == want and _args_ok(c) for c in calls)

    jobs = [one(a, w, seed, choice) for a, w in TOOL_ASKS for seed in range(seeds)
            for choice in ("auto", "required")]  # fmt: skip
    for job in tqdm(asyncio.as_completed(jobs), total=len(jobs), desc="tools"):
        await job
    return {"auto_right_call": tally["right"] / tally["expected"],
            "auto_false_call": tally["false"] / tally["unexpected"],
            "required_valid": tally["valid"] / tally["required"]}  # fmt: skip


def _args_ok(call: Any) -> bool:
    try:
        args = json.loads(call.function.arguments)
    except ValueError:
        return False
    return isinstance(args, dict) and isinstance(args.get("city"), str) and len(args) == 1


async def throughput(api: openai.AsyncOpenAI, streams: int, held: bool) -> float:
    """Aggregate completion tokens per second of ``streams`` concurrent answers."""

    async def one(i: int) -> int:
        ask = [{"role": "user", "content": f"List forty words about topic {i}."}]
        extra: dict[str, Any] = {"response_format": _format("words", LONG)} if held else {}
        if not held:
            extra["extra_body"] = {"ignore_eos": True}
        resp = await api.chat.completions.create(
            model=MODEL, messages=ask, temperature=1.0, seed=i, max_tokens=240, **extra
        )  # type: ignore[call-overload]
        return int(resp.usage.completion_tokens) if resp.usage else 0

    t0 = time.perf_counter()
    tokens = await asyncio.gather(*(one(i) for i in range(streams)))
    return sum(tokens) / (time.perf_counter() - t0)


async def run_all(v1: str, args: argparse.Namespace) -> dict[str, Any]:
    async with openai.AsyncOpenAI(base_url=v1, api_key="x", max_retries=0, timeout=600) as api:
        await throughput(api, 2, held=False)  # warm up
        bad, why = await validity(api, args.seeds)
        tools = await tool_use(api, args.tool_seeds)
        free, held = [], []
        for _ in tqdm(range(args.reps), desc="throughput"):
            free.append(await throughput(api, args.streams, held=False))
            held.append(await throughput(api, args.streams, held=True))
    return {"bad": bad, "why": why, "free": statistics.median(free),
            "held": statistics.median(held), "tools": tools}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20, help="answers per schema")
    parser.add_argument("--streams", type=int, default=8, help="concurrent streams")
    parser.add_argument("--reps", type=int, default=2, help="throughput runs of each kind")
    parser.add_argument("--tool-seeds", type=int, default=3, help="answers per tool question")
    parser.add_argument("--chat-template", type=Path, default=None, metavar="FILE",
                        help="the model's chat_template (e.g. a <tool_call> one: "
                        "tests/fixtures/hermes_tools.jinja)")  # fmt: skip
    args = parser.parse_args()
    if min(args.seeds, args.streams, args.reps, args.tool_seeds) < 1:
        parser.error("--seeds, --streams, --reps and --tool-seeds must be at least 1")
    if args.chat_template is not None and not args.chat_template.is_file():
        parser.error(f"--chat-template: no file {args.chat_template}")
    with tempfile.TemporaryDirectory() as tmp:
        models: dict[str, Any] = {MODEL: {"slots": args.streams}}
        if args.chat_template is not None:
            models[MODEL]["chat_template"] = str(args.chat_template.resolve())
        config = write_config(Path(tmp), server={"port": 0, "models": models})
        server = start_server(config, capture_stderr=False)
        try:
            got = asyncio.run(run_all(server.v1, args))
        finally:
            stop_server(server)
    for line in got["why"][:10]:
        print("invalid:", line)
    print(f"{'schema':10} {'answers':>8} {'invalid':>8}")
    for name, bad in got["bad"].items():
        print(f"{name:10} {args.seeds:8} {bad:8}")
    print(f"\n{'streams':10} {'free tok/s':>11} {'held tok/s':>11} {'ratio':>6}")
    ratio = got["held"] / got["free"]
    print(f"{args.streams:<10} {got['free']:11.1f} {got['held']:11.1f} {ratio:6.2f}\n")
    fig = {
        "invalid": sum(got["bad"].values()),
        "answers": len(SCHEMAS) * args.seeds,
        f"ratio_constrained_{args.streams}": round(ratio, 3),
        "free_tok_s": round(got["free"], 1),
        "held_tok_s": round(got["held"], 1),
        **{key: round(value, 3) for key, value in got["tools"].items()},
        "chat_template": args.chat_template.name if args.chat_template else None,
    }
    report("structured outputs", fig, list(fig), schemas=len(SCHEMAS), streams=args.streams)
    return 0


if __name__ == "__main__":
    sys.exit(main())
