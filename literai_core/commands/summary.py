"""``!summary [minutes]``: what the channel said lately, summarized (map-reduce, see
literai_core/summarize.py) from a longer per-channel history than the prompt window.
``!recap every <minutes> | off`` (moderators): the same, posted on its own every few
minutes while there is something new to recap."""

from __future__ import annotations

import asyncio
import logging

from ..chat import ChannelKey, ChatLine, Reply, ReplyKind
from ..inference import InferenceError
from ..router import Component, Context, command
from ..summarize import SummaryBudget, SummaryError, summarize
from ..trim import trim_reply

log = logging.getLogger(__name__)
MAX_MINUTES = 1440
MIN_NEW_LINES = 3  # fewer new lines than this since the last recap: nothing to post


class SummaryCommands(Component):
    def __init__(self) -> None:
        self.recaps: dict[ChannelKey, asyncio.Task[None]] = {}

    @command("summary", arg="How many minutes back (default: the configured span)")
    async def summary(self, ctx: Context) -> Reply:
        """!summary [minutes]

        Summarize what this channel said in the last minutes.
        """
        core = ctx.core
        s = core.settings.summary
        minutes = s.default_minutes
        if ctx.args:
            try:
                minutes = float(ctx.args.split()[0])
            except ValueError:
                minutes = -1
            if not 0 < minutes <= MAX_MINUTES:
                return Reply(
                    ctx.line,
                    ReplyKind.NOTICE,
                    f"Usage: {core.router.prefix}summary [minutes], 1 to {MAX_MINUTES}.",
                )
        since = ctx.line.time - minutes * 60
        lines = [ln for ln in core.history.lines(ctx.line.key) if ln.time >= since]
        if len(lines) < 3:
            return Reply(ctx.line, ReplyKind.NOTICE, "Not much has been said here yet.")
        transcript = "\n".join(f"{ln.user}: {ln.text}" for ln in lines)
        budget = SummaryBudget(s.chunk_tokens, s.summary_tokens, s.max_depth)
        span = f"{minutes:g} minute{'s' if minutes != 1 else ''}"
        try:
            text = await summarize(core.inference, transcript, budget, about="a live chat")
        except InferenceError as exc:
            return Reply(ctx.line, ReplyKind.ERROR, f"Sorry, I can't summarize right now: {exc}.")
        except SummaryError as exc:
            return Reply(ctx.line, ReplyKind.ERROR, f"Sorry, I couldn't summarize that: {exc}.")
        body = trim_reply(text, core.settings.max_reply_chars - len(span) - 12)
        return Reply(ctx.line, ReplyKind.ANSWER, f"Last {span}: {body}")

    @command(
        "recap", requires_args=True, uses_model=False, mod_only=True, arg="every <minutes> | off"
    )
    async def recap(self, ctx: Context) -> Reply:
        """!recap every <minutes> | off

        Post a summary of this channel's chat every few minutes, or stop (moderators).
        """
        core, line = ctx.core, ctx.line
        p = core.router.prefix
        low = core.settings.summary.recap_min_minutes
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
        task = core.spawn(self._every(ctx, minutes), f"recap for {line.platform} {line.channel}")
        self.recaps[line.key] = task
        return Reply(
            line,
            ReplyKind.NOTICE,
            f"I'll post a recap of the chat every {minutes:g} minutes when there's something "
            f"new. {p}recap off stops it.",
        )

    async def _every(self, ctx: Context, minutes: float) -> None:
        """Sleep, then recap the lines that came since the last recap; an error is said
        once (not every round) until a recap works again."""
        core, line = ctx.core, ctx.line
        seen = max((ln.time for ln in core.history.lines(line.key)), default=float("-inf"))
        failing = False
        while True:
            await asyncio.sleep(minutes * 60)
            s = core.settings.summary
            lines = [ln for ln in core.history.lines(line.key) if ln.time > seen]
            said = [ln for ln in lines if ln.user != core.settings.name]
            if len(said) < MIN_NEW_LINES or line.scope_key in core.paused:
                continue
            transcript = "\n".join(f"{ln.user}: {ln.text}" for ln in lines)
            budget = SummaryBudget(s.chunk_tokens, s.summary_tokens, s.max_depth)
            try:
                text = await summarize(core.inference, transcript, budget, about="a live chat")
            except (InferenceError, SummaryError) as exc:
                log.warning("recap in %s failed: %s", line.channel, exc)
                if not failing:
                    sorry = f"Sorry, I couldn't make this recap: {exc}. I'll try again later."
                    await core.announce(Reply(_unasked(line), ReplyKind.ERROR, sorry))
                failing = True
                continue
            failing = False
            seen = lines[-1].time
            span = f"{minutes:g} minute{'s' if minutes != 1 else ''}"
            body = trim_reply(text, core.settings.max_reply_chars - len(span) - 20)
            recap = Reply(_unasked(line), ReplyKind.ANSWER, f"📝 Recap, last {span}: {body}")
            await core.announce(recap)


def _unasked(line: ChatLine) -> ChatLine:
    """The channel of ``line``, for a post nobody asked for just now."""
    return ChatLine(line.platform, line.channel, "", "", line.time, scope=line.scope)
