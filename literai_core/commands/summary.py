"""``!summary [minutes]``: what the channel said lately, summarized (map-reduce, see
literai_core/summarize.py) from a longer per-channel history than the prompt window."""

from __future__ import annotations

from ..chat import Reply, ReplyKind
from ..inference import InferenceError
from ..router import Component, Context, command
from ..summarize import SummaryBudget, SummaryError, summarize
from ..trim import trim_reply

MAX_MINUTES = 1440


class SummaryCommands(Component):
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
