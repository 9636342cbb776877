"""Slash commands: every core command that exists on Discord is also ``/name``, with
its argument as one option described for the user. An interaction becomes the same
ChatLine as ``!name args``, so cooldowns, roles and windows are the core's as ever.

Discord wants an answer to an interaction within 3 s. A reply that is ready by then
and only a notice (usage, cooldown, settings) goes back privately (ephemeral); anything
else is deferred ("literai is thinking…") and then shown by editing that response,
paced and split like any other reply.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.utils import MISSING

from literai_core.chat import ChatLine, ReplyKind
from literai_core.router import Command

from .post import post_reply

if TYPE_CHECKING:
    from .client import LiteraiDiscord

log = logging.getLogger(__name__)

ACK_WITHIN_S = 2.0  # Discord's limit is 3 s; leave room for the round trip
PRIVATE = (ReplyKind.NOTICE, ReplyKind.REFUSED, ReplyKind.ERROR)


def _slash(client: LiteraiDiscord, cmd: Command) -> app_commands.Command[Any, Any, None]:
    """One app command for the core command ``cmd``."""
    name = cmd.name
    option = cmd.arg_name
    describe = (cmd.arg or option.capitalize())[:100]
    callback: Any
    if not option:

        async def callback(interaction: discord.Interaction) -> None:
            await client.on_slash(interaction, name, "")

    elif cmd.requires_args:

        async def callback(interaction: discord.Interaction, arg: str) -> None:
            await client.on_slash(interaction, name, arg)

    else:

        async def callback(interaction: discord.Interaction, arg: str | None = None) -> None:
            await client.on_slash(interaction, name, arg or "")

    if option:
        callback = app_commands.rename(arg=option)(callback)
        callback = app_commands.describe(arg=describe)(callback)
    if cmd.mod_only:  # hidden from members without Manage Server; the core checks too
        callback = app_commands.default_permissions(manage_guild=True)(callback)
    summary = (cmd.summary or cmd.usage)[:100]
    return app_commands.Command(name=name, description=summary, callback=callback)


def build_tree(client: LiteraiDiscord) -> app_commands.CommandTree[Any]:
    tree: app_commands.CommandTree[Any] = app_commands.CommandTree(client)
    for cmd in client.core.router.all("discord"):
        tree.add_command(_slash(client, cmd))
    return tree


class InteractionTarget:
    """What ``post_reply`` sends to for an interaction: the first send fills in the
    deferred response, later ones are follow-ups. Both come back editable."""

    def __init__(self, interaction: discord.Interaction) -> None:
        self.interaction = interaction
        self.first = True

    async def send(
        self,
        content: str,
        *,
        file: discord.File | None = None,
        reference: object = None,
        allowed_mentions: discord.AllowedMentions | None = None,
    ) -> discord.Message:
        mentions = allowed_mentions or discord.AllowedMentions.none()
        if self.first:
            self.first = False
            return await self.interaction.edit_original_response(
                content=content,
                attachments=[file] if file is not None else MISSING,
                allowed_mentions=mentions,
            )
        return await self.interaction.followup.send(
            content, file=file or MISSING, wait=True, allowed_mentions=mentions
        )


async def answer_interaction(
    client: LiteraiDiscord, interaction: discord.Interaction, line: ChatLine
) -> None:
    handled = asyncio.ensure_future(client.core.handle(line))
    done, _ = await asyncio.wait({handled}, timeout=ACK_WITHIN_S)
    deferred = not done
    if deferred:
        await interaction.response.defer(thinking=True)
    reply = await handled
    if not deferred and (reply is None or reply.kind in PRIVATE):
        text = "Not now." if reply is None else await reply.text()
        await interaction.response.send_message(text or "Not now.", ephemeral=True)
        return
    if not deferred:
        await interaction.response.defer(thinking=True)
    if reply is None:
        await interaction.edit_original_response(content="Not now.")
        return
    channel_id = interaction.channel_id or 0
    try:
        await post_reply(
            InteractionTarget(interaction),
            reply,
            client.pacer(channel_id),
            edit_interval_s=client.settings.edit_interval_s,
            max_upload_bytes=client.settings.max_upload_bytes,
        )
    except discord.HTTPException as exc:
        log.warning("discord: could not answer /%s: %s", line.text[:20], exc)
        return
    await client.speak(interaction.guild, reply)
