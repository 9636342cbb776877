"""A burst of 20 `!ask` commands from different users within 2 seconds, against the real
discord.py client on a local fake of Discord's gateway and REST, with literai's server
on the embedded model.

    .venv/bin/python -m bench.discord_burst [--users 20] [--spread-s 2] [--channel-queue 20]

Runs twice on one server: the baseline, each answer its own message (threaded to its
question, streamed by edits), then answers combined (``discord.combine_answers``: those
arriving while another is being posted share one message, a part per asker). Reports
time from message to first visible reply text (p50/p95; a shared message's part
counts once it shows text) and to the full reply (p95), the most sends plus edits in
any 5 s window of the channel (Discord's limit is 5), and how many commands were
answered, explicitly refused (a ⏳ reaction or a notice) or dropped (nothing at all).
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import discord
import openai
import yarl
from discord.gateway import DiscordWebSocket

from bench.report import pct
from bench.text import start_server
from bots.discord.client import LiteraiDiscord
from bots.discord.settings import DiscordSettings
from literai_core.core import ChatCore
from literai_core.inference import OpenAIInference
from literai_core.settings import BotSettings
from tests.kit.fake_discord import Action, FakeDiscord

REFUSALS = ("slow down", "busy", "Sorry")


async def burst(
    base_url: str, users: int, spread_s: float, queue: int, combine: bool
) -> dict[str, object]:
    fake = FakeDiscord()
    await fake.start()
    discord.http.Route.BASE = fake.api_base  # type: ignore[misc]
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway)
    bot = BotSettings(channel_cooldown_s=0, channel_queue=queue)  # type: ignore[call-arg]
    settings = DiscordSettings(combine_answers=combine)  # type: ignore[call-arg]
    async with openai.AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0) as api:
        client = LiteraiDiscord(ChatCore(bot, OpenAIInference(api, "smollm2")), settings)
        task = asyncio.create_task(client.start("test-token"))
        await asyncio.wait_for(client.ready_event.wait(), 30)
        asked = await _ask(fake, users, spread_s)
        await _wait_for_answers(fake, asked, 180)
        await client.close()
        await asyncio.wait_for(task, 10)
    await fake.stop()
    return _figures(fake, asked)


async def _ask(fake: FakeDiscord, users: int, spread_s: float) -> dict[str, tuple[float, str]]:
    """One !ask from each of ``users`` viewers, spread evenly over ``spread_s``; when
    each was asked and by whom, by message id."""
    asked: dict[str, tuple[float, str]] = {}
    for i in range(users):
        mid = await fake.user_says(
            f"!ask what is your favourite thing about teletypes, number {i}?",
            user_id=str(1100000000000001000 + i),
            name=f"viewer{i}",
        )
        asked[mid] = (time.monotonic(), f"viewer{i}")
        await asyncio.sleep(spread_s / users)
    return asked


async def _wait_for_answers(
    fake: FakeDiscord, asked: dict[str, tuple[float, str]], limit_s: float
) -> None:
    """Until every command has a final reply or a ⏳ reaction (or the time is up)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        reacted = {a.message_id for a in fake.actions if a.kind == "react"}
        _, finals = _timeline(fake.actions, asked)
        if all(m in reacted or finals.get(m) for m in asked):
            return
        await asyncio.sleep(0.2)


_PART = re.compile(r"^\*\*(.+?)\*\*: (.*)$")


def _timeline(
    actions: list[Action], asked: dict[str, tuple[float, str]]
) -> tuple[dict[str, tuple[float, str]], dict[str, tuple[float, str]]]:
    """Per asking message: when its answer's text was first shown, and when and as what
    it was shown final (no trailing ellipsis): a reply threaded to it, or its part of a
    shared message (a line "**name**: text")."""
    by_name = {name: mid for mid, (_, name) in asked.items()}
    owner: dict[str, str] = {}  # bot message id -> asking message id
    first: dict[str, tuple[float, str]] = {}
    final: dict[str, tuple[float, str]] = {}
    for a in actions:
        if a.kind not in ("send", "edit"):
            continue
        if a.kind == "send" and a.reference:
            owner[a.message_id] = a.reference
        ask = owner.get(a.message_id)
        shown = [(ask, a.content)] if ask else []
        for line in a.content.splitlines() if not ask else ():
            m = _PART.match(line)
            if m and m.group(1) in by_name:
                shown.append((by_name[m.group(1)], m.group(2)))
        for mid, text in shown:
            if text.removesuffix(" …").strip():
                first.setdefault(mid, (a.at, text))
                if not text.endswith(" …"):
                    final[mid] = (a.at, text)
    return first, final


def _figures(fake: FakeDiscord, asked: dict[str, tuple[float, str]]) -> dict[str, object]:
    reacted = {a.message_id for a in fake.actions if a.kind == "react"}
    first, finals = _timeline(fake.actions, asked)
    first_ms, full_ms = [], []
    answered = refused = dropped = 0
    for mid, (t0, _) in asked.items():
        shown = first.get(mid)
        if shown is None:
            if mid in reacted:
                refused += 1  # ⏳: refused for now, out loud
            else:
                dropped += 1
            continue
        final = finals.get(mid)
        text = final[1] if final else shown[1]
        if any(text.startswith(r) or r in text[:40] for r in REFUSALS):
            refused += 1
            continue
        answered += 1
        first_ms.append((shown[0] - t0) * 1000)
        if final is not None:
            full_ms.append((final[0] - t0) * 1000)
    return {
        "first_text_ms_p50": round(pct(first_ms, 0.5)),
        "first_text_ms_p95": round(pct(first_ms, 0.95)),
        "full_reply_ms_p95": round(pct(full_ms, 0.95)),
        # Sends plus edits: what Discord's 5 per 5 s counts (reactions are apart).
        "max_actions_per_5s": fake.max_per_5s(("send", "edit")),
        "answered": answered,
        "refused": refused,
        "dropped": dropped,
        "actions": len(fake.actions),
    }


KEYS = ("first_text_ms_p50", "first_text_ms_p95", "full_reply_ms_p95", "max_actions_per_5s",
        "answered", "refused", "dropped", "actions")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spread-s", type=float, default=2.0)
    parser.add_argument("--channel-queue", type=int, default=20, help="bot.channel_queue")
    parser.add_argument("--slots", type=int, default=None, help="the model's slots (default 8)")
    args = parser.parse_args()
    if args.users < 1 or args.spread_s < 0 or not 1 <= args.channel_queue <= 100:
        parser.error("--users >= 1, --spread-s >= 0, --channel-queue from 1 to 100")
    runs: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_server(2, Path(tmp), slots=args.slots)
        try:  # the baseline (each answer its own message) first, in the same run
            for name, combine in (("one_by_one", False), ("combined", True)):
                runs[name] = asyncio.run(
                    burst(base + "/v1", args.users, args.spread_s, args.channel_queue, combine)
                )
        finally:
            proc.terminate()
            proc.wait(30)
    print(
        f"{args.users} !ask in {args.spread_s} s, one channel, channel_queue {args.channel_queue}"
    )
    print(f"{'':22}" + "".join(f"{k:>22}" for k in runs))
    for key in KEYS:
        print(f"{key:22}" + "".join(f"{fig[key]!s:>22}" for fig in runs.values()))
    one, both = runs["one_by_one"], runs["combined"]
    ratio = float(both["first_text_ms_p95"]) / max(1.0, float(one["first_text_ms_p95"]))  # type: ignore[arg-type]
    print(json.dumps({
        **{f"{k}": v for k, v in both.items()},
        "baseline": one, "first_text_p95_ratio": round(ratio, 3), "users": args.users,
        "spread_s": args.spread_s, "channel_queue": args.channel_queue,
        "date": datetime.date.today().isoformat(),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
