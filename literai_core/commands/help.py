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
        host = ctx.host
        p = host.prefix
        wanted = ctx.args.split(" ", 1)[0].lstrip(p).lower()
        if wanted:
            cmd = host.command(wanted, ctx.line.platform)
            if cmd is None:
                text = f"No command {p}{wanted[:32]}. Try {p}help."
            else:
                text = f"{host.usage(cmd)} — {cmd.summary}".rstrip(" —")
        else:
            is_mod = host.is_mod(ctx.line)
            usable = [c for c in host.commands(ctx.line.platform) if is_mod or not c.mod_only]
            names = " ".join(f"{p}{c.name}" for c in usable)
            text = f"Commands: {names}. {p}help <command> for details."
        return Reply(ctx.line, ReplyKind.NOTICE, text)
