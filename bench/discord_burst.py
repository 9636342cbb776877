"""A burst of 20 `!ask` commands from different users within 2 seconds, against the real
discord.py client on a local fake of Discord's gateway and REST, with literai's server
on the embedded model.

    .venv/bin/python -m bench.discord_burst [--users 20] [--spread-s 2]

Reports time from message to first visible reply text (p50/p95) and to the full reply
(p95), the most sends plus edits in any 5 s window of the channel (Discord's limit is
5), and how many commands were answered, explicitly refused (a ⏳ reaction or a notice)
or dropped (nothing at all). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import discord
import openai
import yarl
from discord.gateway import DiscordWebSocket

from bench.report import pct, report
from bench.text import start_server
from bots.discord.client import LiteraiDiscord
from bots.discord.settings import DiscordSettings
from literai_core.core import ChatCore
from literai_core.inference import OpenAIInference
from literai_core.settings import BotSettings
from tests.kit.fake_discord import Action, FakeDiscord

REFUSALS = ("slow down", "busy", "Sorry")


async def burst(base_url: str, users: int, spread_s: float) -> dict[str, object]:
    fake = FakeDiscord()
    await fake.start()
    discord.http.Route.BASE = fake.api_base  # type: ignore[misc]
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway)
    bot = BotSettings(channel_cooldown_s=0, channel_queue=8)  # type: ignore[call-arg]
    async with openai.AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0) as api:
        client = LiteraiDiscord(ChatCore(bot, OpenAIInference(api, "smollm2")), DiscordSettings())
        task = asyncio.create_task(client.start("test-token"))
        await asyncio.wait_for(client.ready_event.wait(), 30)
        asked = await _ask(fake, users, spread_s)
        await _wait_for_answers(fake, asked, 180)
        await client.close()
        await asyncio.wait_for(task, 10)
    await fake.stop()
    return _figures(fake, asked)


async def _ask(fake: FakeDiscord, users: int, spread_s: float) -> dict[str, float]:
    """One !ask from each of ``users`` viewers, spread evenly over ``spread_s``; when
    each was asked, by message id."""
    asked: dict[str, float] = {}
    for i in range(users):
        mid = await fake.user_says(
            f"!ask what is your favourite thing about teletypes, number {i}?",
            user_id=str(1100000000000001000 + i),
            name=f"viewer{i}",
        )
        asked[mid] = time.monotonic()
        await asyncio.sleep(spread_s / users)
    return asked


async def _wait_for_answers(fake: FakeDiscord, asked: dict[str, float], limit_s: float) -> None:
    """Until every command has a final reply or a ⏳ reaction (or the time is up)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        reacted = {a.message_id for a in fake.actions if a.kind == "react"}
        finals = _finals(fake.actions)
        if all(m in reacted or finals.get(m) for m in asked):
            return
        await asyncio.sleep(0.2)


def _figures(fake: FakeDiscord, asked: dict[str, float]) -> dict[str, object]:
    first_send = {a.reference: a for a in fake.actions if a.kind == "send" and a.reference}
    reacted = {a.message_id for a in fake.actions if a.kind == "react"}
    finals = _finals(fake.actions)
    first_ms, full_ms = [], []
    answered = refused = dropped = 0
    for mid, t0 in asked.items():
        send = first_send.get(mid)
        if send is None:
            if mid in reacted:
                refused += 1  # ⏳: refused for now, out loud
            else:
                dropped += 1
            continue
        final = finals.get(mid)
        text = final.content if final else send.content
        if any(text.startswith(r) or r in text[:40] for r in REFUSALS):
            refused += 1
            continue
        answered += 1
        first_ms.append((send.at - t0) * 1000)
        if final is not None:
            full_ms.append((final.at - t0) * 1000)
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


def _finals(actions: list[Action]) -> dict[str, Action]:
    """The last action of each reply whose text is final (no trailing ellipsis)."""
    owner: dict[str, str] = {}  # bot message id -> asking message id
    finals: dict[str, Action] = {}
    for a in actions:
        if a.kind == "send" and a.reference:
            owner[a.message_id] = a.reference
        ask = owner.get(a.message_id)
        if ask is not None and not a.content.endswith(" …"):
            finals[ask] = a
    return finals


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spread-s", type=float, default=2.0)
    args = parser.parse_args()
    if args.users < 1 or args.spread_s < 0:
        parser.error("--users >= 1 and --spread-s >= 0")
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_server(2, Path(tmp))
        try:
            fig = asyncio.run(burst(base + "/v1", args.users, args.spread_s))
        finally:
            proc.terminate()
            proc.wait(30)
    report(
        f"{'commands':28}{args.users} in {args.spread_s} s, one channel",
        fig,
        (
            "first_text_ms_p50",
            "first_text_ms_p95",
            "full_reply_ms_p95",
            "max_actions_per_5s",
            "answered",
            "refused",
            "dropped",
        ),
        users=args.users,
        spread_s=args.spread_s,
        channel_queue=8,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
