"""``!help``: usage lines taken from each command's docstring."""

from __future__ import annotations

from ..chat import Reply, ReplyKind
from ..router import Component, Context, command


class HelpCommands(Component):
    @command("help", uses_model=False, arg="A command to explain")
    async def help(self, ctx: Context) -> Reply:
        """!help [command]

        List the commands, or show how to use one.
        """
        router = ctx.core.router
        wanted = ctx.args.split(" ", 1)[0].lstrip(router.prefix).lower()
        if wanted:
            cmd = router.get(wanted, ctx.line.platform)
            if cmd is None:
                text = f"No command {router.prefix}{wanted[:32]}. Try {router.prefix}help."
            else:
                text = f"{router.usage(cmd)} — {cmd.summary}".rstrip(" —")
        else:
            is_mod = bool(ctx.line.roles & set(ctx.core.settings.mod_roles))
            usable = [c for c in router.all(ctx.line.platform) if is_mod or not c.mod_only]
            names = " ".join(f"{router.prefix}{c.name}" for c in usable)
            text = f"Commands: {names}. {router.prefix}help <command> for details."
        return Reply(ctx.line, ReplyKind.NOTICE, text)
