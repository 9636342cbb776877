"""What the bot remembers of you: ``!memory`` shows it, ``!forget me`` deletes it;
moderators ``!forget channel`` (everything kept in this channel) or ``!forget NAME``."""

from __future__ import annotations

import time

from ..chat import Reply, ReplyKind
from ..router import Component, Context, command

SHOWN = 3  # lines quoted in !memory
QUOTE = 80  # characters of each


def _things(n: int) -> str:
    return "nothing" if n == 0 else f"the {n} thing{'s' if n > 1 else ''}"


def _ago(seconds: float) -> str:
    days = int(seconds // 86400)
    if days >= 1:
        return f"{days} day{'s' if days > 1 else ''} ago"
    hours = int(seconds // 3600)
    return f"{hours} hour{'s' if hours > 1 else ''} ago" if hours >= 1 else "just now"


class MemoryCommands(Component):
    @command("memory", uses_model=False)
    async def memory(self, ctx: Context) -> Reply:
        """!memory

        What I remember of what you said about yourself here (!forget me deletes it).
        """
        line, memory = ctx.line, ctx.host.memory
        if memory is None:
            return _notice(ctx, "I don't keep memories here.")
        # In a private conversation: what is kept of you anywhere on this platform.
        channel = None if line.private else (line.scope or line.channel)
        facts = await memory.about(line.platform, line.user, channel)
        if not facts:
            return _notice(ctx, f"I don't remember anything you told me, {line.user}.")
        now = time.time()
        quoted = "; ".join(
            f'"{f.text[:QUOTE]}{"…" if len(f.text) > QUOTE else ""}" ({_ago(now - f.said_at)})'
            for f in facts[:SHOWN]
        )
        more = f" and {len(facts) - SHOWN} more" if len(facts) > SHOWN else ""
        p = ctx.host.prefix
        return _notice(
            ctx, f"{line.user}, I remember: {quoted}{more}. {p}forget me deletes it all."
        )

    @command(
        "forget",
        requires_args=True,
        uses_model=False,
        arg="me (or, for moderators, channel or a name)",
    )
    async def forget(self, ctx: Context) -> Reply:
        """!forget me

        Delete everything I remember about you. Moderators: !forget channel, !forget NAME.
        """
        line, memory, p = ctx.line, ctx.host.memory, ctx.host.prefix
        if memory is None:
            return _notice(ctx, "I don't keep memories here.")
        what = ctx.args.strip()
        if what.lower() == "me":
            gone = await memory.forget_user(line.platform, line.user)
            return _notice(ctx, f"Done, {line.user}: I've forgotten {_things(gone)} you told me.")
        if not ctx.host.is_mod(line):
            return _notice(
                ctx, f"Usage: {p}forget me (moderators: {p}forget channel or {p}forget NAME)."
            )
        if what.lower() == "channel" and not line.private:
            gone = await memory.forget_channel(line.platform, line.scope or line.channel)
            return _notice(ctx, f"Done: I've forgotten {_things(gone)} I remembered here.")
        name = what.removeprefix("@")
        if not name or len(name) > 64 or " " in name:
            return _notice(ctx, f"Usage: {p}forget me, {p}forget channel or {p}forget NAME.")
        gone = await memory.forget_user(line.platform, name)
        return _notice(ctx, f"Done: I've forgotten {_things(gone)} {name} told me.")


def _notice(ctx: Context, text: str) -> Reply:
    return Reply(ctx.line, ReplyKind.NOTICE, text)
