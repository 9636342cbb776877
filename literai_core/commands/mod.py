"""Moderator commands: clear the window, change the persona, pause and resume. Adapters
report platform roles (Discord: admin for Manage Server; Twitch: moderator/broadcaster
badges); ``bot.mod_roles`` says which count."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..chat import Reply, ReplyKind
from ..router import Component, Context, command

MAX_PERSONA = 1000


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

    @command("persona", uses_model=False, mod_only=True, arg="The new persona, or reset")
    async def persona(self, ctx: Context) -> Reply:
        """!persona [text | reset]

        Show or set how the bot behaves in this channel (moderators).
        """
        host = ctx.host
        if not ctx.args:
            return Reply(ctx.line, ReplyKind.NOTICE, f"Persona: {host.persona(ctx.line.scope_key)}")
        if ctx.args.lower() == "reset":
            host.set_persona(ctx.line.scope_key, None)
            return Reply(ctx.line, ReplyKind.NOTICE, "Persona reset to the default.")
        if len(ctx.args) > MAX_PERSONA:
            return Reply(
                ctx.line, ReplyKind.NOTICE, f"A persona is at most {MAX_PERSONA} characters."
            )
        host.set_persona(ctx.line.scope_key, ctx.args)
        return Reply(ctx.line, ReplyKind.NOTICE, "Persona updated for this channel.")

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
