"""``!summary [minutes]``: what the channel said lately, summarized (map-reduce, see
literai_core/summarize.py) from a longer per-channel history than the prompt window.
``!recap every <minutes> | off`` (moderators): the same, posted on its own every few
minutes while there is something new to recap."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from ..chat import ChannelKey, ChatLine, Reply, ReplyKind
from ..highlights import highlights
from ..host import Host
from ..inference import InferenceError
from ..router import Component, Context, command
from ..settings import SummarySettings
from ..summarize import SummaryBudget, SummaryError, count_tokens, split_chunks, summarize
from ..trim import trim_reply

log = logging.getLogger(__name__)
MAX_MINUTES = 1440
MIN_NEW_LINES = 3  # fewer new lines than this since the last recap: nothing to post

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class SummaryCommands(Component):
    """``clock`` and ``sleep`` drive the timed recaps (the adapters' clock: line times
    come from it); tests pass their own and call ``Recap.run_once``."""

    def __init__(self, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.clock = clock
        self.sleep = sleep
        self.recaps: dict[ChannelKey, asyncio.Task[None]] = {}

    @command("summary", arg="How many minutes back (default: the configured span)")
    async def summary(self, ctx: Context) -> Reply:
        """!summary [minutes]

        Summarize what this channel said in the last minutes.
        """
        host = ctx.host
        s = host.settings.summary
        minutes = s.default_minutes
        if ctx.args:
            try:
                minutes = float(ctx.args.split()[0])
            except ValueError:
                minutes = -1
            if not 0 < minutes <= MAX_MINUTES:
                usage = f"Usage: {host.prefix}summary [minutes], 1 to {MAX_MINUTES}."
                return Reply(ctx.line, ReplyKind.NOTICE, usage)
        since = ctx.line.time - minutes * 60
        lines = [ln for ln in host.history(ctx.line.key) if ln.time >= since and not ln.own]
        if len(lines) < 3:
            return Reply(ctx.line, ReplyKind.NOTICE, "Not much has been said here yet.")
        span = _span(minutes)
        try:
            body = await chat_summary(host, lines, host.settings.max_reply_chars - len(span) - 12)
        except InferenceError as exc:
            return Reply(ctx.line, ReplyKind.ERROR, f"Sorry, I can't summarize right now: {exc}.")
        except SummaryError as exc:
            return Reply(ctx.line, ReplyKind.ERROR, f"Sorry, I couldn't summarize that: {exc}.")
        if not body:
            return Reply(ctx.line, ReplyKind.NOTICE, f"Nothing much was said in the last {span}.")
        if host.memory is not None:  # remembered as what this stream was about
            host.memory.keep_summary(ctx.line, body)
        return Reply(ctx.line, ReplyKind.ANSWER, f"Last {span}: {body}")

    @command(
        "recap", requires_args=True, uses_model=False, mod_only=True, arg="every <minutes> | off"
    )
    async def recap(self, ctx: Context) -> Reply:
        """!recap every <minutes> | off

        Post a summary of this channel's chat every few minutes, or stop (moderators).
        """
        host, line = ctx.host, ctx.line
        p = host.prefix
        low = host.settings.summary.recap_min_minutes
        verb, _, rest = ctx.args.partition(" ")
        verb = verb.lower()
        running = self.recaps.get(line.key)
        if verb == "off":
            if running is None:
                return Reply(line, ReplyKind.NOTICE, "Timed recaps are off already.")
            running.cancel()
            del self.recaps[line.key]
            return Reply(line, ReplyKind.NOTICE, "Timed recaps are off.")
        try:
            minutes = float(rest.split()[0]) if verb == "every" and rest else -1.0
        except ValueError:
            minutes = -1.0
        if not low <= minutes <= MAX_MINUTES:
            return Reply(
                line,
                ReplyKind.NOTICE,
                f"Usage: {p}recap every <minutes> ({low:g} to {MAX_MINUTES}) | {p}recap off",
            )
        if running is not None:
            running.cancel()
        recap = Recap(host, line, minutes)
        job = recap.run(self.clock, self.sleep)
        self.recaps[line.key] = host.spawn(job, f"recap for {line.platform} {line.channel}")
        return Reply(
            line,
            ReplyKind.NOTICE,
            f"I'll post a recap of the chat every {minutes:g} minutes when there's something "
            f"new. {p}recap off stops it.",
        )


class Recap:
    """One channel's timed recap: ``run_once(now)`` posts a summary of what came since
    the last one (when there is enough); ``run`` does that every ``minutes``. A failure
    is said once, not every round, until a recap works again."""

    def __init__(self, host: Host, line: ChatLine, minutes: float) -> None:
        self.host = host
        self.key = line.key
        self.channel = _unasked(line)
        self.minutes = minutes
        history = host.history(line.key)
        self.seen = max((ln.time for ln in history), default=float("-inf"))
        self.failing = False

    async def run(self, clock: Clock, sleep: Sleep) -> None:
        while True:
            await sleep(self.minutes * 60)
            await self.run_once(clock())

    async def run_once(self, now: float) -> Reply | None:
        """One round; the reply posted, if any."""
        host = self.host
        lines = [ln for ln in host.history(self.key) if ln.time > self.seen and not ln.own]
        said = [ln for ln in lines if ln.user != host.settings.name]
        if len(said) < MIN_NEW_LINES or host.paused(self.channel.scope_key):
            return None
        where = ChatLine(
            self.channel.platform, self.channel.channel, "", "", now, scope=self.channel.scope
        )
        span = _span(self.minutes)
        try:
            body = await chat_summary(host, lines, host.settings.max_reply_chars - len(span) - 20)
        except (InferenceError, SummaryError) as exc:
            log.warning("recap in %s failed: %s", where.channel, exc)
            first, self.failing = not self.failing, True
            if not first:
                return None
            sorry = f"Sorry, I couldn't make this recap: {exc}. I'll try again later."
            reply = Reply(where, ReplyKind.ERROR, sorry)
            await host.announce(reply)
            return reply
        self.failing = False
        self.seen = lines[-1].time
        if not body:  # nothing said worth quoting: nothing to post
            return None
        reply = Reply(where, ReplyKind.ANSWER, f"📝 Recap, last {span}: {body}")
        if host.memory is not None:  # remembered as what this stream was about
            host.memory.keep_summary(where, body)
        await host.announce(reply)
        return reply


async def chat_summary(host: Host, lines: list[ChatLine], room: int) -> str:
    """What ``lines`` said, within ``room`` characters, in ``bot.summary.chat_style``:
    the most informative lines quoted (highlights.py), or the model's summary of the
    most recent that fit (raises InferenceError or SummaryError). "": nothing to quote."""
    s = host.settings.summary
    if s.chat_style == "highlights":
        return await asyncio.to_thread(highlights, lines, room, prefix=host.prefix)
    transcript = recent_transcript(lines, s)
    budget = SummaryBudget.from_settings(s)
    text = await summarize(host.inference, transcript, budget, about="a live chat")
    return trim_reply(text, room)


def _span(minutes: float) -> str:
    return f"{minutes:g} minute{'s' if minutes != 1 else ''}"


def recent_transcript(lines: list[ChatLine], s: SummarySettings) -> str:
    """The most recent of ``lines`` that fit ``s.max_chunks`` chunks: one message never
    costs more than that many model calls (plus the combining ones), however long the
    history."""
    room = s.max_chunks * s.chunk_tokens
    kept: list[str] = []
    for ln in reversed(lines):
        row = f"{ln.user}: {ln.text}"
        room -= count_tokens(row) + 1
        if kept and room < 0:
            break
        kept.append(row)
    kept.reverse()
    # Chunks are packed at line and sentence boundaries, not filled: drop the oldest
    # lines until they fit.
    while len(kept) > 1 and len(split_chunks("\n".join(kept), s.chunk_tokens)) > s.max_chunks:
        del kept[0]
    return "\n".join(kept)


def _unasked(line: ChatLine) -> ChatLine:
    """The channel of ``line``, for a post nobody asked for just now."""
    return ChatLine(line.platform, line.channel, "", "", line.time, scope=line.scope)
