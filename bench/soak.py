"""A sustained mixed load: chat lines and commands in 200 channels across Discord,
Twitch and IRC at a steady rate, the real discord.py, twitchio and pydle against the
local fake Discord, the fake Twitch and a real InspIRCd, one chat core as in ``literai
run``, and literai's server on the embedded model.

    .venv/bin/python -m bench.soak [--minutes 30] [--rate 20] [--channels 200]
                                   [--history 10] [--trace] [--quant q4_0]

The warm-up (a fifth of the run, at most 3 minutes) fills the bounded stores; the
summary history is kept at ``--history`` lines a channel so that it is full by then
(at the default 500 it fills for 80 minutes: growth by design). The model is the Q4_0
copy, the format for many busy channels (``--quant``). ``--trace`` names the
lines of code whose allocations grew after the warm-up (tracemalloc; slower).

Reports the bots' resident memory after warm-up and at the end (and the server's), open
file descriptors, command latency (to the first reply or refusal) p50/p99, and how many
commands were answered, refused out loud, collapsed (a !help said moments ago in that
channel), quieted (sent while the bot had told its sender to wait N s: one notice, then
silence) or lost (none of those, a minute after the load stopped). The last line is
one JSON object with ``rss_growth_pct``, ``fd_growth``, ``latency_p99_over_p50`` and
``lost``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from bench.answers import ROOT, model_files
from bench.report import pct, report
from bench.soak_platforms import Platforms
from tests.kit.server import start_server, stop_server, write_config
from tests.kit.waiting import until

COMMANDS = ("!ask what is a teletype, briefly?", "!help", "!gpt2 the paper tape says")
GRACE_S = 60.0


@dataclass
class Tally:
    """Every command sent: when, and when its first reply or refusal came."""

    asked: dict[str, float] = field(default_factory=dict)  # command id -> sent at
    answered: dict[str, float] = field(default_factory=dict)  # id -> first reply at
    refused: set[str] = field(default_factory=set)
    platform_of: dict[str, str] = field(default_factory=dict)  # id -> where it was asked
    kind_of: dict[str, str] = field(default_factory=dict)  # id -> "ask", "help" or "gpt2"
    # A !help said in a channel whose same help was posted moments ago: the bot says a
    # notice once per channel (bot.repeat_notice_s), so it is not asked again.
    collapsed: set[str] = field(default_factory=set)
    # IRC commands the server relayed to the channel (a watcher saw them): a lost one
    # that was never relayed was lost before the bot could hear it.
    relayed: set[str] = field(default_factory=set)
    # Who sent each command as the bot sees it: the viewer on Discord and Twitch, the
    # IRC peer's nick (one peer speaks for many viewers in its channels).
    sender_of: dict[str, str] = field(default_factory=dict)
    # After "slow down — try again in N s" the bot ignores that sender's commands for
    # N s (one notice, then silence: bot.user_cooldown_s, bot.user_commands); each
    # refusal opens (platform, sender, from, until).
    quiet: list[tuple[str, str, float, float]] = field(default_factory=list)
    # Discord answers first shown as a part of a digest (combined with others while
    # another answer was being posted in the channel), not as a threaded reply.
    combined: set[str] = field(default_factory=set)


def quieted(tally: Tally, lost: set[str]) -> set[str]:
    """The lost commands sent while their sender had been told to wait: the bot's
    designed silence, not a loss. Half a second is added to the N the bot said, which
    it rounds to whole seconds."""
    return {
        c for c in lost
        if any(platform == tally.platform_of[c] and who == tally.sender_of.get(c)
               and start < tally.asked[c] <= end + 0.5
               for platform, who, start, end in tally.quiet)
    }  # fmt: skip


def rss_kib(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def load(platforms: Platforms, tally: Tally, rate: float, seconds: float) -> None:
    """``rate`` lines a second for ``seconds``: one in ten a command, from 500 viewers
    in every channel in turn."""
    rng = random.Random(7)
    total = int(rate * seconds)
    start = time.monotonic()
    bar = tqdm(total=total, unit="line", file=sys.stderr, desc="chat")
    for i in range(total):
        viewer = f"viewer{rng.randrange(500)}"
        channel = rng.choice(platforms.channels)  # commands and chat in every channel
        if i % 10 == 5:
            command = COMMANDS[(i // 10) % len(COMMANDS)]
            cid = await platforms.say(channel, viewer, command)
            tally.asked[cid] = time.monotonic()
            tally.platform_of[cid] = channel[0]
            tally.kind_of[cid] = command.split()[0].removeprefix("!")
        else:
            await platforms.say(channel, viewer, f"chat line {i}: the tape is {i % 7} m long")
        bar.update()
        await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.monotonic()))
    bar.close()


async def soak(base_url: str, args: argparse.Namespace, folder: Path) -> dict[str, object]:
    tally = Tally()
    async with Platforms(base_url, args.channels, folder, tally, args.history) as platforms:
        # Warm-up: the bounded stores fill (windows, histories of --history lines, the
        # libraries' message caches: discord.py keeps 1,000 messages).
        warmup = min(180.0, args.minutes * 60 / 5)
        await load(platforms, tally, args.rate, warmup)
        rss_warm, fds_warm = rss_kib(), open_fds()
        first = tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None
        await load(platforms, tally, args.rate, args.minutes * 60 - warmup)
        if first is not None:
            grown = tracemalloc.take_snapshot().compare_to(first, "lineno")
            for stat in grown[:25]:  # where the memory that grew was allocated
                print(f"soak: grew {stat}", file=sys.stderr)
        with contextlib.suppress(AssertionError):  # what is still missing then is lost
            await until(lambda: set(tally.asked) <= set(tally.answered) | tally.refused, GRACE_S)
        # Discord channels where a reply is still being posted or a digest is still
        # open a minute after the load: a reply that never ended, if any.
        stuck = {**platforms.discord._posting, **{c: "digest" for c in platforms.discord._digests}}
        if stuck:
            print(f"soak: Discord replies still open: {stuck}", file=sys.stderr)
        for cid in set(tally.asked) - set(tally.answered) - tally.refused:
            print(f"soak: unanswered {cid} in {platforms._asked_in.get(cid)}", file=sys.stderr)
        rss_end, fds_end = rss_kib(), open_fds()
    return figures(tally, rss_warm, rss_end, fds_warm, fds_end)


def by_kind(tally: Tally) -> dict[str, dict[str, float | int]]:
    """Latency of answers per command kind and platform: a !help takes milliseconds, a
    model answer seconds, and Discord shows a streamed answer's first words where Twitch
    and IRC wait for the whole one, so one distribution over all of them measures the
    mix, not the tail. The tail of each group is what a viewer there waits."""
    out: dict[str, dict[str, float | int]] = {}
    for kind in sorted(set(tally.kind_of.values())):
        for platform in ("discord", "twitch", "irc"):
            waits = [
                tally.answered[c] - t
                for c, t in tally.asked.items()
                if tally.kind_of[c] == kind and tally.platform_of[c] == platform
                and c in tally.answered and c not in tally.refused
            ]  # fmt: skip
            if waits:
                p50, p99 = pct(waits, 0.5), pct(waits, 0.99)
                out[f"{kind}_{platform}"] = {
                    "n": len(waits), "p50_s": round(p50, 2), "p99_s": round(p99, 2),
                    "p99_over_p50": round(p99 / p50, 2) if p50 else float("nan"),
                }  # fmt: skip
    return out


def figures(tally: Tally, rss0: int, rss1: int, fd0: int, fd1: int) -> dict[str, object]:
    latencies = [tally.answered[c] - t for c, t in tally.asked.items() if c in tally.answered]
    p50, p99 = pct(latencies, 0.5), pct(latencies, 0.99)
    kinds = by_kind(tally)
    worst = max(
        (v["p99_over_p50"] for k, v in kinds.items() if v["n"] >= 20 and not k.startswith("help")),
        default=None,
    )
    handled = set(tally.answered) | tally.refused | tally.collapsed
    silenced = quieted(tally, set(tally.asked) - handled)
    lost = set(tally.asked) - handled - silenced
    by_platform = {
        platform: round(
            pct([tally.answered[c] - t for c, t in tally.asked.items()
                 if c in tally.answered and tally.platform_of[c] == platform], 0.99), 2)
        for platform in ("discord", "twitch", "irc")
    }  # fmt: skip
    if lost:
        for cid in sorted(lost)[:8]:
            relayed = "" if tally.platform_of[cid] != "irc" else (
                ", relayed by the IRC server" if cid in tally.relayed else ", never relayed"
            )  # fmt: skip
            print(f"soak: lost {cid} ({tally.kind_of[cid]}{relayed})", file=sys.stderr)
    return {
        "commands": len(tally.asked),
        "answered": len(set(tally.answered) - tally.refused),
        "refused": len(tally.refused),
        "lost": len(lost),
        "lost_by_platform": {
            platform: sum(1 for c in lost if tally.platform_of.get(c) == platform)
            for platform in ("discord", "twitch", "irc")
        },
        "collapsed": len(tally.collapsed - set(tally.answered)),
        "combined": len(tally.combined),
        "quieted": len(silenced),
        "latency_p50_s": round(p50, 2),
        "latency_p99_s_by_platform": by_platform,
        "latency_p99_s": round(p99, 2),
        "latency_p99_over_p50_mixed": round(p99 / p50, 2) if p50 else None,
        "latency_by_kind": kinds,
        # The worst tail among the model commands' groups (seen at least 20 times): the
        # figure the target is about. A !help's p50 is a few milliseconds on loopback,
        # so its ratio says nothing; its p99 is in latency_by_kind.
        "latency_p99_over_p50": worst,
        "rss_warm_mib": round(rss0 / 1024, 1),
        "rss_end_mib": round(rss1 / 1024, 1),
        "rss_growth_pct": round(100 * (rss1 - rss0) / rss0, 1) if rss0 else None,
        "fd_warm": fd0,
        "fd_end": fd1,
        "fd_growth": fd1 - fd0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=20.0, help="chat lines a second")
    parser.add_argument("--channels", type=int, default=200, help="across the platforms")
    parser.add_argument(
        "--history", type=int, default=10, help="summary history lines a channel (bounded)"
    )
    parser.add_argument("--trace", action="store_true", help="show where memory grew")
    parser.add_argument(
        "--quant", choices=("q4_0", "q8_0", "q4_1"), default="q4_0",
        help="model file: q4_0, the format for many busy channels (README, Engines)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.history < 10:
        parser.error("--history: at least 10 lines (bot.summary.history_lines)")
    if args.trace:
        tracemalloc.start()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = str(model_files(ROOT / "data" / "bench")[args.quant])
        models = {"smollm2": {"slots": 8, "path": path}}
        config = write_config(folder, server={"port": 0, "models": models})
        server = start_server(config, capture_stderr=False)
        try:
            fig = asyncio.run(soak(server.v1, args, folder))
            fig["server_rss_end_mib"] = round(rss_kib(server.proc.pid) / 1024, 1)
        finally:
            stop_server(server)
    keys = [k for k in fig if k != "latency_p99_over_p50"] + ["latency_p99_over_p50"]
    report(
        f"soak: {args.minutes:g} min, {args.rate:g} lines/s, {args.channels} channels, "
        f"history {args.history} lines",
        fig,
        keys,
        minutes=args.minutes,
        rate=args.rate,
        channels=args.channels,
        history_lines=args.history,
        quant=args.quant,
    )
    return 0 if fig["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
