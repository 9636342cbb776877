"""A busy Twitch chat: 50 messages a second for 10 s, 10 of them `!ask` from different
viewers, through the real twitchio client on a local fake of Twitch (EventSub in, Helix
out), with literai's server on the embedded model.

    .venv/bin/python -m bench.twitch [--rate 50] [--seconds 10] [--asks 10]

Reports time from a viewer's message to the bot's reply (p50/p95), the most messages
the bot sent in any 30 s (Twitch allows 20 per channel, 100 as moderator), how many
commands were answered, refused out loud, or dropped (no reply at all), and how many
plain chat lines per second the bot takes into its window when flooded (a second
phase: lines pushed as fast as the fake can, until the bot has handled them all).
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import zlib
from pathlib import Path

import openai

from bench.report import pct, report
from bench.text import start_server
from bots.twitch.client import LiteraiTwitch, point_at
from bots.twitch.settings import Credentials, TwitchSettings
from literai_core.chat import ChatLine, Reply
from literai_core.core import ChatCore
from literai_core.inference import OpenAIInference
from literai_core.settings import BotSettings
from tests.kit.fake_twitch import (
    BOT_REFRESH,
    BOT_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    FakeTwitch,
    Sent,
)

REFUSALS = ("slow down", "busy")
FLOOD = 2000


class CountingCore(ChatCore):
    """The real core, counting the lines it has handled (for the ingestion rate)."""

    handled = 0

    async def handle(self, line: ChatLine) -> Reply | None:
        reply = await super().handle(line)
        self.handled += 1
        return reply


def max_per_30s(sent: list[Sent]) -> int:
    times = sorted(s.at for s in sent)
    return max((sum(1 for t in times if s <= t < s + 30) for s in times), default=0)


async def burst(base_url: str, rate: int, seconds: float, asks: int) -> dict[str, object]:
    fake = FakeTwitch()
    await fake.start()
    point_at(fake.api_base, fake.id_base, fake.eventsub)
    bot = BotSettings(channel_cooldown_s=0, channel_queue=8)  # type: ignore[call-arg]
    async with openai.AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0) as api:
        core = CountingCore(bot, OpenAIInference(api, "smollm2"))
        client = LiteraiTwitch(
            core,
            TwitchSettings(channels=["streamer"]),  # type: ignore[call-arg]
            Credentials(CLIENT_ID, CLIENT_SECRET, BOT_TOKEN, BOT_REFRESH),
        )
        task = asyncio.create_task(
            client.start(with_adapter=False, load_tokens=False, save_tokens=False)
        )
        await asyncio.wait_for(fake.subscribed.wait(), 30)
        total = int(rate * seconds)
        asked = await _chat(fake, rate, total, asks)
        await _wait_for_replies(fake, asked, 240)
        ingest = await _flood(fake, core)  # phase two
        await client.close()
        await asyncio.gather(task, return_exceptions=True)
    await fake.stop()
    return _figures(fake, asked, ingest, total)


async def _chat(fake: FakeTwitch, rate: int, total: int, asks: int) -> dict[str, float]:
    """``total`` chat lines at ``rate`` a second, ``asks`` of them !ask spread among
    them; when each !ask was sent, by message id."""
    every = max(1, total // asks)
    asked: dict[str, float] = {}
    start = time.monotonic()
    for i in range(total):
        n = i // every
        if i % every == every // 2 and n < asks:
            text, user = f"!ask what do you like about teletypes, {n}?", f"asker{n}"
        else:
            text, user = f"chat line {i}: the paper tape is {i % 7} inches long", f"v{i % 37}"
        uid = str(5000 + zlib.crc32(user.encode()) % 10_000)
        mid = await fake.chat(text, user_id=uid, login=user)
        if text.startswith("!ask"):
            asked[mid] = time.monotonic()
        await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.monotonic()))
    return asked


async def _wait_for_replies(fake: FakeTwitch, asked: dict[str, float], limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        replied = {s.reply_to for s in fake.sent}
        if all(m in replied for m in asked):
            return
        await asyncio.sleep(0.2)


async def _flood(fake: FakeTwitch, core: CountingCore) -> float:
    """A flood of plain lines, as fast as they can be pushed: lines handled a second."""
    before = core.handled
    t0 = time.monotonic()
    for i in range(FLOOD):
        await fake.chat(f"flood line {i}", user_id="9", login="flooder")
    for _ in range(12_000):  # up to 120 s
        if core.handled >= before + FLOOD:
            break
        await asyncio.sleep(0.01)
    return (core.handled - before) / (time.monotonic() - t0)


def _figures(
    fake: FakeTwitch, asked: dict[str, float], ingest: float, total: int
) -> dict[str, object]:
    first = {}
    for s in fake.sent:
        if s.reply_to and s.reply_to not in first:
            first[s.reply_to] = s
    reply_ms = []
    answered = refused = dropped = 0
    for mid, t0 in asked.items():
        sent = first.get(mid)
        if sent is None:
            dropped += 1
        elif any(r in sent.text for r in REFUSALS):
            refused += 1
        else:
            answered += 1
            reply_ms.append((sent.at - t0) * 1000)
    return {
        "reply_ms_p50": round(pct(reply_ms, 0.5)),
        "reply_ms_p95": round(pct(reply_ms, 0.95)),
        "max_sent_per_30s": max_per_30s(fake.sent),
        "answered": answered,
        "refused": refused,
        "dropped": dropped,
        "ingest_lines_s": round(ingest),
        "messages_in": total,
        "asks": len(asked),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--asks", type=int, default=10)
    args = parser.parse_args()
    if args.rate < 1 or args.seconds <= 0 or not 1 <= args.asks <= args.rate * args.seconds:
        parser.error("--rate >= 1, --seconds > 0, 1 <= --asks <= rate * seconds")
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_server(2, Path(tmp))
        try:
            fig = asyncio.run(burst(base + "/v1", args.rate, args.seconds, args.asks))
        finally:
            proc.terminate()
            proc.wait(30)
    report(
        f"{'chat':28}{args.rate}/s for {args.seconds} s, {args.asks} !ask among them",
        fig,
        (
            "reply_ms_p50",
            "reply_ms_p95",
            "max_sent_per_30s",
            "answered",
            "refused",
            "dropped",
            "ingest_lines_s",
        ),
        rate=args.rate,
        seconds=args.seconds,
        channel_queue=8,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
