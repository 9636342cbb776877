"""The Discord client: turns messages into ChatLines and replies into sends and edits.
Permissions (allow/block lists) are checked here; everything else is the core's."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import discord

from literai_core.chat import ChatLine, ReplyKind
from literai_core.config import DiscordSettings
from literai_core.core import ChatCore

from .pacing import Pacer
from .post import post_reply

log = logging.getLogger(__name__)

BUSY = "⏳"  # the reaction for a command refused for now (cooldown, full queue)


def channel_key(message: discord.Message) -> str:
    """DMs get a window per user; threads their own, apart from their parent."""
    channel = message.channel
    if isinstance(channel, discord.DMChannel):
        return f"dm:{message.author.id}"
    return str(channel.id)


def roles_of(message: discord.Message) -> frozenset[str]:
    author = message.author
    roles: set[str] = set()
    if isinstance(author, discord.Member):
        for role in author.roles:
            roles.update((role.name, str(role.id)))
        perms = author.guild_permissions
        if perms.administrator or perms.manage_guild:
            roles.add("admin")
    return frozenset(roles)


class LiteraiDiscord(discord.Client):
    def __init__(
        self,
        core: ChatCore,
        settings: DiscordSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents)
        self.core = core
        self.settings = settings
        self.clock = clock
        self._pacers: dict[int, Pacer] = {}
        self.ready_event = asyncio.Event()

    async def on_ready(self) -> None:
        log.info("discord: logged in as %s", self.user)
        self.ready_event.set()

    def allowed(self, message: discord.Message) -> bool:
        s = self.settings
        user = str(message.author.id)
        channel = str(getattr(message.channel, "parent_id", None) or message.channel.id)
        roles = roles_of(message)
        if user in s.block_users or channel in s.block_channels:
            return False
        if roles & set(s.block_roles):
            return False
        if s.allow_users and user not in s.allow_users:
            return False
        if s.allow_channels and channel not in s.allow_channels:
            return False
        return not (s.allow_roles and not roles & set(s.allow_roles))

    def pacer(self, channel_id: int) -> Pacer:
        pacer = self._pacers.get(channel_id)
        if pacer is None:
            pacer = self._pacers[channel_id] = Pacer(self.settings.actions_per_5s, 5.0)
        return pacer

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or (self.user is not None and message.author.id == self.user.id):
            return  # never answer bots, least of all ourselves
        if not self.allowed(message):
            return
        line = ChatLine(
            "discord",
            channel_key(message),
            message.author.display_name,
            message.content,
            self.clock(),
            roles_of(message),
        )
        reply = await self.core.handle(line)
        if reply is None:
            return
        if reply.kind is ReplyKind.REFUSED:
            # "Not now" as a reaction: it does not count against the channel's 5 sends
            # per 5 s, which the answers need. Hovering shows nothing; the emoji says it.
            try:
                await message.add_reaction(BUSY)
            except discord.HTTPException as exc:
                log.warning("discord: could not react: %s", exc)
            return
        try:
            await post_reply(
                message.channel,
                reply,
                self.pacer(message.channel.id),
                edit_interval_s=self.settings.edit_interval_s,
                reference=message,
            )
        except discord.HTTPException as exc:
            log.warning("discord: could not post a reply: %s", exc)
