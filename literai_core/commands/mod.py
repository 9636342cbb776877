"""Moderator commands: clear the window, change the persona, pause and resume. Adapters
report platform roles (Discord: admin for Manage Server; Twitch: moderator/broadcaster
badges); ``bot.mod_roles`` says which count."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable

from ..chat import Reply, ReplyKind
from ..filter import MAX_WORDS
from ..inference import InferenceError
from ..router import Component, Context, command

log = logging.getLogger(__name__)

MAX_PERSONA = 1000
_MODEL_ARG = re.compile(r"^model=(\S{1,64})(?:\s+(.*))?$", re.S)


async def _pick_model(ctx: Context, name: str) -> str | None:
    """Set the channel's model to ``name`` ("default": the configured one) if the server
    serves it; else why not."""
    scope = ctx.line.scope_key
    if name.lower() == "default":
        ctx.host.set_model(scope, None)
        return None
    try:
        served = await ctx.host.inference.models()
    except InferenceError as exc:
        return f"Sorry, I couldn't check the models: {exc}."
    if name not in served:
        return f"There is no model {name} here; one of: {', '.join(served[:10])}."
    ctx.host.set_model(scope, name)
    return None


class ModCommands(Component):
    """``reload``: re-reads the config and says what happened; None where the process
    cannot (no file to read)."""

    def __init__(self, reload: Callable[[], Awaitable[str]] | None = None) -> None:
        self.reload_config = reload

    @command("clear", uses_model=False, mod_only=True)
    async def clear(self, ctx: Context) -> Reply:
        """!clear

        Forget this channel's recent chat (moderators).
        """
        ctx.host.forget(ctx.line.key)
        return Reply(ctx.line, ReplyKind.NOTICE, "Done: I've forgotten the recent chat here.")

    @command(
        "persona", uses_model=False, mod_only=True,
        arg="The new persona (model=NAME first picks a model too), or reset",
    )  # fmt: skip
    async def persona(self, ctx: Context) -> Reply:
        """!persona [model=NAME] [text | reset]

        Show or set how the bot behaves in this channel, and which model answers
        (moderators).
        """
        host, scope = ctx.host, ctx.line.scope_key
        if not ctx.args:
            model = host.model(scope)
            shown = f"Persona: {host.persona(scope)}" + (f" (model: {model})" if model else "")
            return Reply(ctx.line, ReplyKind.NOTICE, shown)
        if ctx.args.lower() == "reset":
            host.set_persona(scope, None)
            host.set_model(scope, None)
            return Reply(ctx.line, ReplyKind.NOTICE, "Persona and model reset to the defaults.")
        text, said = ctx.args, []
        if (picked := _MODEL_ARG.match(text)) is not None:
            name, text = picked[1], (picked[2] or "").strip()
            refusal = await _pick_model(ctx, name)
            if refusal is not None:
                return Reply(ctx.line, ReplyKind.NOTICE, refusal)
            said.append(f"Model for this channel: {host.model(scope) or 'the default'}.")
        if text:
            if len(text) > MAX_PERSONA:
                notice = f"A persona is at most {MAX_PERSONA} characters."
                return Reply(ctx.line, ReplyKind.NOTICE, notice)
            host.set_persona(scope, text)
            said.append("Persona updated for this channel.")
        return Reply(ctx.line, ReplyKind.NOTICE, " ".join(said))

    @command("pause", uses_model=False, mod_only=True)
    async def pause(self, ctx: Context) -> Reply:
        """!pause

        Stop answering model commands in this channel until !resume (moderators).
        """
        ctx.host.pause(ctx.line.scope_key, True)
        return Reply(ctx.line, ReplyKind.NOTICE, "Paused. !resume when you want me back.")

    @command("resume", uses_model=False, mod_only=True)
    async def resume(self, ctx: Context) -> Reply:
        """!resume

        Answer again after !pause (moderators).
        """
        ctx.host.pause(ctx.line.scope_key, False)
        return Reply(ctx.line, ReplyKind.NOTICE, "I'm back.")

    @command("reload", uses_model=False, mod_only=True)
    async def reload(self, ctx: Context) -> Reply:
        """!reload

        Re-read the config file and apply the bot's settings (moderators).
        """
        if self.reload_config is None:
            return Reply(ctx.line, ReplyKind.NOTICE, "Reloading isn't available here.")
        return Reply(ctx.line, ReplyKind.NOTICE, await self.reload_config())


class FilterCommands(Component):
    """``!filter``: a channel's own blocked and allowed words (moderators)."""

    @command("filter", uses_model=False, mod_only=True, arg="add|allow|remove WORD, or list")
    async def filter(self, ctx: Context) -> Reply:
        """!filter add|allow|remove <word> | list

        Block a word in this channel, allow one the list blocks, undo either, or list
        them (moderators).
        """
        filt = ctx.host.filter
        if filt is None:
            return Reply(ctx.line, ReplyKind.NOTICE, "The filter is off (bot.filter.enabled).")
        verb, _, word = ctx.args.strip().partition(" ")
        verb, word, scope = verb.lower(), word.strip(), ctx.line.scope_key
        if verb == "list" or not verb:
            own = filt.words(scope)
            blocked = ", ".join(sorted(w[0] + "*" * (len(w) - 1) for w in own.blocked))
            allowed = ", ".join(sorted(own.allowed))
            said = f"Blocked here: {blocked or 'none'}. Allowed here: {allowed or 'none'}."
            return Reply(ctx.line, ReplyKind.NOTICE, said)
        if verb not in ("add", "allow", "remove") or not word or len(word) > 60:
            return Reply(
                ctx.line, ReplyKind.NOTICE, "Usage: !filter add|allow|remove WORD, or list"
            )
        if verb == "remove":
            done = "Removed." if filt.remove(scope, word) else "Not on my lists."
        elif not filt.add(scope, word, allow=verb == "allow"):
            return Reply(ctx.line, ReplyKind.NOTICE, f"That list is full ({MAX_WORDS} words).")
        else:
            done = "Blocked here." if verb == "add" else "Allowed here."
        try:
            await asyncio.to_thread(filt.save)  # kept across restarts (data_dir)
        except OSError as exc:
            log.warning("filter: cannot save the channel words: %s", exc)
            done += " (Not saved: it lasts until I restart.)"
        return Reply(ctx.line, ReplyKind.NOTICE, done)
