"""A scripted stream on the local fake of Twitch, through the real twitchio client: 200
viewers chatting at 20 messages a second (some saying things about themselves, a few
asking `!ask`), 30 events (follows, raids, subs, resubs, gift subs, cheers) and 10
channel-point redemptions, with an adversarial model that mixes blocked words (plain,
leetspeak, spaced, dotted) into half of what it writes, split mid-word across pieces.

    .venv/bin/python -m bench.stream [--minutes 10] [--rate 20] [--viewers 200]

Figures: every event and redemption handled (thanked in a line, or a redemption
fulfilled) or refused with a reason (a redemption cancelled, the viewer told why), and
none unhandled; the most messages sent in any 30 s (Twitch: 20); blocked words in what
was sent to chat and in every caption the overlay was shown while answers streamed
(scored apart from the filter: the adversarial words searched for in the text with
leetspeak undone and separators removed), beside the baseline, how many the model
wrote; the time the memory's recall adds to `!ask`
(p95; the baseline, the same `!ask` with memory off, adds 0 by construction); and
resident memory growth from the end of the first minute to the end. Last line: JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bench.report import pct, report
from bench.twitch import max_per_30s
from bots.twitch.client import LiteraiTwitch, point_at
from bots.twitch.settings import Credentials, TwitchSettings
from literai_core.chat import ChatLine, Reply
from literai_core.core import ChatCore
from literai_core.inference import Generation
from literai_core.memory import Memory
from literai_core.settings import BotSettings, MemorySettings
from tests.kit.fake_twitch import (
    BOT_REFRESH,
    BOT_TOKEN,
    BROADCASTER_REFRESH,
    BROADCASTER_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
)
from tests.kit.fake_twitch_events import FakeTwitchStream
from tests.kit.media import picture, spoken

ADVERSARIAL = ("fuck", "shit", "bitch", "asshole", "cunt", "porn", "motherfucker")
DISGUISED = ("what the fuck", "sh1t", "f u c k", "b.i.t.c.h", "a$$hole", "c-u-n-t", "p0rn",
             "MOTHERFUCKER")  # fmt: skip
_LEET = str.maketrans("0134$@!7", "oieasait")
KINDS = ("channel.follow", "channel.raid", "channel.subscribe", "channel.subscription.message",
         "channel.subscription.gift", "channel.cheer")  # fmt: skip
REWARDS = {"Ask the bot": "ask", "TTS message": "say", "Draw it": "imagine"}


def blocked_in(text: str) -> int:
    """Adversarial words in ``text``, found apart from the filter: leetspeak undone,
    every non-letter removed (over-counts across words; never under-counts)."""
    squashed = re.sub(r"[^a-z]", "", text.lower().translate(_LEET))
    return sum(squashed.count(word) for word in ADVERSARIAL)


class AdversarialModel:
    """Writes a plain answer, with a blocked word in every second one, in pieces of 3
    characters (so words split across pieces); speech and images made at once."""

    def __init__(self) -> None:
        self.calls = 0
        self.written = 0  # blocked words written: what the filter has to stop

    async def stream_chat(
        self, messages: list[dict[str, str]], gen: Generation, *, user: str | None = None
    ) -> AsyncIterator[str]:
        self.calls += 1
        n = self.calls
        bad = f" and {DISGUISED[n % len(DISGUISED)]} to that" if n % 2 else ""
        text = f"The paper tape runs at ten characters a second{bad}. Thanks for asking!"
        self.written += blocked_in(text)
        for i in range(0, len(text), 3):
            await asyncio.sleep(0.005)
            yield text[i : i + 3]

    def stream_completion(
        self, prompt: str, gen: Generation, *, user: str | None = None
    ) -> AsyncIterator[str]:
        return self.stream_chat([], gen, user=user)

    async def speech(self, text: str, *, voice: str, model: str) -> bytes:
        return spoken(text)

    async def image(self, prompt: str, *, size: str) -> bytes:
        return picture(prompt)

    async def models(self) -> list[str]:
        return ["smollm2"]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Watch:
    """What the overlay was shown: every caption update of every reply."""

    def __init__(self) -> None:
        self.shown_blocked = 0
        self.updates = 0

    def observe(self, reply: Reply) -> None:
        reply.watch(self._seen)

    def _seen(self, text: str, done: bool) -> None:
        self.updates += 1
        self.shown_blocked += blocked_in(text)


def _timed_recall(memory: Memory, took: list[float]) -> None:
    recall = memory.recall

    async def timed(line: ChatLine, question: str) -> Any:
        t0 = time.perf_counter()
        found = await recall(line, question)
        took.append((time.perf_counter() - t0) * 1000)
        return found

    memory.recall = timed  # type: ignore[method-assign]


async def stream(minutes: float, rate: int, viewers: int, folder: Path) -> dict[str, object]:
    fake = FakeTwitchStream()
    await fake.start()
    point_at(fake.api_base, fake.id_base, fake.eventsub)
    took: list[float] = []
    memory = Memory(folder / "memory.sqlite", MemorySettings())  # type: ignore[call-arg]
    _timed_recall(memory, took)
    watch = Watch()
    bot = BotSettings(channel_queue=4)  # type: ignore[call-arg]
    model = AdversarialModel()
    core = ChatCore(bot, model, observers=[watch.observe], memory=memory)
    on = {"mode": "template"}
    events = {"follow": {"mode": "model"}, "raid": {"mode": "model"}, "sub": on, "resub": on,
              "gift": on, "cheer": on}  # fmt: skip
    settings = TwitchSettings(channels=["streamer"], events=events, redemptions=REWARDS)  # type: ignore[arg-type]
    owner = Credentials(CLIENT_ID, CLIENT_SECRET, BOT_TOKEN, BOT_REFRESH,
                        BROADCASTER_TOKEN, BROADCASTER_REFRESH)  # fmt: skip
    client = LiteraiTwitch(core, settings, owner, overlay=True)
    task = asyncio.create_task(
        client.start(with_adapter=False, load_tokens=False, save_tokens=False)
    )
    while len(fake.subscriptions) < 8:  # noqa: ASYNC110 (the fake counts; no event per count)
        await asyncio.sleep(0.05)
    rss = await _run(fake, minutes, rate, viewers)
    await asyncio.sleep(35)  # the last events' lines wait for their interval
    rss_end = rss_mb()
    await client.close()
    await asyncio.gather(task, return_exceptions=True)
    await memory.aclose()
    await fake.stop()
    return {**_figures(fake, client, watch, took, rss_end - rss, memory),
            "blocked_words_written": model.written}  # fmt: skip


async def _run(fake: FakeTwitchStream, minutes: float, rate: int, viewers: int) -> float:
    """The stream itself; the RSS at the end of its first minute."""
    total = int(minutes * 60 * rate)
    events_at = {total * (k + 1) // 31: k for k in range(30)}
    rewards_at = {total * (k + 1) // 11 + 7: k for k in range(10)}
    rss = rss_mb()
    start = time.monotonic()
    for i in range(total):
        user = f"viewer{i % viewers}"
        uid = str(5000 + zlib.crc32(user.encode()) % 100_000)
        await fake.chat(_line(i, user), user_id=uid, login=user)
        if i in events_at:
            await _event(fake, events_at[i])
        if i in rewards_at:
            await _redeem(fake, rewards_at[i])
        if i == 60 * rate:
            rss = rss_mb()
        await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.monotonic()))
    return rss


def _line(i: int, user: str) -> str:
    if i % 200 == 100:
        return (
            "!ask what is my dog called?"
            if i % 400 == 100
            else "!ask what do you remember about me?"
        )
    if i % 10 == 3:
        return f"my dog is called Rex{i % 97} and he loves the paper tape"
    if i % 10 == 7:
        return f"I live in town{i % 53} near the old telegraph office"
    return f"chat line {i}: the tape is {i % 7} inches long"


async def _event(fake: FakeTwitchStream, k: int) -> None:
    kind = KINDS[k % len(KINDS)]
    name = f"fan{k}"
    fields: dict[str, Any] = {"user_name": name, "user_login": name}
    if kind == "channel.raid":
        fields = {"from_broadcaster_user_name": name, "viewers": 10 + k}
    elif kind == "channel.subscription.gift":
        fields["total"] = 1 + k % 5
    elif kind == "channel.cheer":
        fields["bits"] = 100 * (1 + k % 3)
    await fake.event(kind, **fields)


async def _redeem(fake: FakeTwitchStream, k: int) -> None:
    title = list(REWARDS)[k % len(REWARDS)]
    text = "" if k == 4 else ("what the fuck" if k == 5 else f"tell me about teletypes {k}")
    await fake.redeem(title, text, login=f"redeemer{k}")


def _figures(
    fake: FakeTwitchStream,
    client: LiteraiTwitch,
    watch: Watch,
    took: list[float],
    rss_growth: float,
    memory: Memory,
) -> dict[str, object]:
    r = client.redeemed
    handled = client.reactions.thanked + r["fulfilled"]
    refused = r["cancelled"]
    return {
        "events": 30,
        "redemptions": 10,
        "handled": handled,
        "refused": refused,
        "unhandled": 40 - handled - refused,
        "sent": len(fake.sent),
        "max_sent_per_30s": max_per_30s(fake.sent),
        "blocked_words_sent": sum(blocked_in(s.text) for s in fake.sent),
        "blocked_words_shown": watch.shown_blocked,
        "overlay_updates": watch.updates,
        "asks_recalled": len(took),
        "memory_ms_p95": round(pct(took, 0.95), 2),
        "memory_ms_p50": round(pct(took, 0.5), 2),
        "memory_lines_kept": memory.kept,
        "rss_growth_mb": round(rss_growth, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=int, default=20, help="chat messages a second")
    ap.add_argument("--viewers", type=int, default=200)
    args = ap.parse_args()
    if args.minutes <= 0 or args.rate <= 0 or args.viewers <= 0:
        ap.error("--minutes, --rate and --viewers must be positive")
    with tempfile.TemporaryDirectory() as folder:
        fig = asyncio.run(stream(args.minutes, args.rate, args.viewers, Path(folder)))
    header = f"stream: {args.minutes} min, {args.rate} msg/s, {args.viewers} viewers"
    report(header, fig, list(fig))


if __name__ == "__main__":
    main()
