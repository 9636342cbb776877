"""The Discord client: turns messages into ChatLines and replies into sends and edits.
Permissions (allow/block lists) are checked here; everything else is the core's."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl

from literai_core.chat import ChatLine, Reply, ReplyKind
from literai_core.core import ChatCore
from literai_core.gate import OWNER
from literai_core.router import Component

from ..pacing import Pacer
from .digest import Digest
from .post import post_reply
from .settings import DiscordSettings
from .slash import answer_interaction, build_tree
from .voice import Clip, Voice, VoiceCommands, load_opus

log = logging.getLogger(__name__)

MAX_PACERS = 1000  # channels' pacers kept (idle ones beyond it are dropped)
BUSY = "⏳"  # the reaction for a command refused for now (cooldown, full queue)
QUEUE_FULL = "🔇"  # posted as a file, but the voice queue had no room to play it


def point_at(api_base_url: str | None, gateway_url: str | None) -> None:
    """Talk to a Discord-compatible server instead of Discord (settings are per process
    in discord.py: class attributes)."""
    if api_base_url:
        discord.http.Route.BASE = api_base_url.rstrip("/")
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def channel_key(channel: Any, user_id: int) -> str:
    """DMs get a window per user; threads their own, apart from their parent."""
    if isinstance(channel, discord.DMChannel) or channel is None:
        return f"dm:{user_id}"
    return str(channel.id)


def scope_of(channel: Any) -> str | None:
    """A thread follows its parent channel's persona and pause."""
    parent = getattr(channel, "parent_id", None) if isinstance(channel, discord.Thread) else None
    return None if parent is None else str(parent)


def roles_of(author: discord.User | discord.Member) -> frozenset[str]:
    """The member's role names and ids, and ``admin`` for those who manage the server.
    A role a guild named ``owner`` is not the owner: that one (literai's own person at the
    machine) never comes from a platform."""
    roles: set[str] = set()
    if isinstance(author, discord.Member):
        for role in author.roles:
            roles.update((role.name, str(role.id)))
        roles.discard(OWNER)
        perms = author.guild_permissions
        if perms.administrator or perms.manage_guild:
            roles.add("admin")
    return frozenset(roles)


class LiteraiDiscord(discord.Client):
    platform = "discord"

    def __init__(
        self,
        core: ChatCore,
        settings: DiscordSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        voice_cls: type[discord.VoiceClient] = discord.VoiceClient,
        intents: discord.Intents | None = None,
    ) -> None:
        if intents is None:  # message content: privileged, enabled in the Developer Portal
            intents = discord.Intents.default()
            intents.message_content = True
        # Model text never pings anyone: the client default covers every send, edit,
        # follow-up and interaction response (an edit without allowed_mentions would
        # otherwise be parsed with Discord's default allowances, @everyone included).
        super().__init__(intents=intents, allowed_mentions=discord.AllowedMentions.none())
        self.core = core
        self.settings = settings
        self.clock = clock
        self.sleep = sleep  # the pacers' waits, on ``clock``'s time
        self._pacers: OrderedDict[int, Pacer] = OrderedDict()  # bounded: MAX_PACERS
        # Per channel, while replies are being posted there: how many, and the open
        # digest that answers arriving meanwhile join (entries leave when done).
        self._posting: dict[int, int] = {}
        self._digests: dict[int, Digest] = {}
        self.ready_event = asyncio.Event()
        self.voice: Voice | None = None
        if settings.voice.enabled:
            load_opus()
            self.voice = Voice(settings.voice, self._synthesize, voice_cls)
        core.attach(self)  # before the slash tree: it lists the voice commands too
        self.tree = build_tree(self) if settings.slash_commands else None

    def components(self) -> Sequence[Component]:
        return [VoiceCommands(self.voice)] if self.voice is not None else []

    async def setup_hook(self) -> None:
        if self.tree is not None:
            try:
                synced = await self.tree.sync()
                log.info("discord: %d slash commands registered", len(synced))
            except discord.HTTPException as exc:  # the prefix commands still work
                log.warning("discord: could not register slash commands: %s", exc)

    async def on_ready(self) -> None:
        log.info("discord: logged in as %s", self.user)
        self.ready_event.set()

    async def close(self) -> None:
        if self.voice is not None:
            await self.voice.close()
        await super().close()

    def reconfigure(self, settings: DiscordSettings) -> None:
        """``!reload``: lists, pacing and voice options apply from the next message.
        Turning voice or slash commands on or off needs a restart."""
        self.settings = settings
        for pacer in self._pacers.values():
            pacer.actions = settings.actions_per_5s
        if self.voice is not None:
            self.voice.settings = settings.voice

    async def _synthesize(self, text: str) -> bytes:
        s = self.core.settings
        return await self.core.inference.speech(text, voice=s.voice, model=s.speech_model)

    def allowed(self, author: discord.User | discord.Member, channel: Any) -> bool:
        s = self.settings
        user = str(author.id)
        where = str(getattr(channel, "parent_id", None) or getattr(channel, "id", ""))
        roles = roles_of(author)
        if user in s.block_users or where in s.block_channels:
            return False
        if roles & set(s.block_roles):
            return False
        if s.allow_users and user not in s.allow_users:
            return False
        if s.allow_channels and where not in s.allow_channels:
            return False
        return not (s.allow_roles and not roles & set(s.allow_roles))

    def pacer(self, channel_id: int) -> Pacer:
        """The channel's pacer. At most MAX_PACERS are kept: past that, the least recently
        used idle ones go (an idle pacer has nothing to remember), so a bot in many
        channels and DMs does not grow without end."""
        pacer = self._pacers.get(channel_id)
        if pacer is None:
            pacer = self._pacers[channel_id] = Pacer(
                self.settings.actions_per_5s, 5.0, self.clock, self.sleep, spread=True
            )
            if len(self._pacers) > MAX_PACERS:
                now = self.clock()
                for key in [k for k, p in self._pacers.items() if p.idle(now)]:
                    if len(self._pacers) <= MAX_PACERS // 2 or key == channel_id:
                        break
                    del self._pacers[key]
        self._pacers.move_to_end(channel_id)
        return pacer

    def line(
        self, author: discord.User | discord.Member, channel: Any, text: str, source: object
    ) -> ChatLine:
        return ChatLine(
            "discord",
            channel_key(channel, author.id),
            author.display_name,
            text,
            self.clock(),
            roles_of(author),
            scope=scope_of(channel),
            private=isinstance(channel, discord.DMChannel) or channel is None,
            source=source,
        )

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or (self.user is not None and message.author.id == self.user.id):
            return  # never answer bots, least of all ourselves
        if not self.allowed(message.author, message.channel):
            return
        line = self.line(message.author, message.channel, message.content, message)
        reply = await self.core.handle(line)
        if reply is None:
            return
        if reply.kind is ReplyKind.REFUSED:
            # "Not now" as a reaction: it does not count against the channel's 5 sends
            # per 5 s, which the answers need. Hovering shows nothing; the emoji says it.
            await self._react(message, BUSY)
            return
        try:
            await self._post(message, reply)
        except discord.HTTPException as exc:
            log.warning("discord: could not post a reply: %s", exc)
            return
        if not await self.speak(message.guild, reply):
            if reply.media is not None and self._in_voice(message.guild):
                await self._react(message, QUEUE_FULL)

    async def _post(self, message: discord.Message, reply: Reply) -> None:
        """A reply to ``message``: threaded on its own, or, while another is still being
        posted in the channel, as a part of the channel's digest (``digest.py``)."""
        cid = message.channel.id
        combine = self.settings.combine_answers and reply.kind is ReplyKind.ANSWER
        if combine and reply.media is None and (self._posting.get(cid) or cid in self._digests):
            digest = self._digests.get(cid)
            if digest is None or not digest.has_room():
                digest = self._digests[cid] = Digest(
                    message.channel, self.pacer(cid), self.settings.edit_interval_s
                )
            try:
                await digest.join(message.author.display_name, reply)
            finally:
                if self._digests.get(cid) is digest and digest.closed:
                    del self._digests[cid]
            return
        self._posting[cid] = self._posting.get(cid, 0) + 1
        try:
            await post_reply(
                message.channel,
                reply,
                self.pacer(cid),
                edit_interval_s=self.settings.edit_interval_s,
                reference=message,
                max_upload_bytes=self.settings.max_upload_bytes,
            )
        finally:
            self._posting[cid] -= 1
            if not self._posting[cid]:
                del self._posting[cid]

    async def announce(self, reply: Reply) -> None:
        """Post where nobody asked just now (a finished podcast, a timed recap): the
        channel (or DM) of the reply's line, and in voice too where the bot is in one."""
        key = reply.line.channel
        try:
            if key.startswith("dm:"):
                user = self.get_user(int(key[3:])) or await self.fetch_user(int(key[3:]))
                channel: Any = user.dm_channel or await user.create_dm()
            else:
                channel = self.get_channel(int(key)) or await self.fetch_channel(int(key))
            await post_reply(
                channel,
                reply,
                self.pacer(channel.id),
                edit_interval_s=self.settings.edit_interval_s,
                max_upload_bytes=self.settings.max_upload_bytes,
            )
        except (discord.HTTPException, ValueError) as exc:
            log.warning("discord: could not post in %s: %s", key, exc)
            return
        await self.speak(getattr(channel, "guild", None), reply)

    async def _react(self, message: discord.Message, emoji: str) -> None:
        try:
            await message.add_reaction(emoji)
        except discord.HTTPException as exc:
            log.warning("discord: could not react: %s", exc)

    def _in_voice(self, guild: discord.Guild | None) -> bool:
        return guild is not None and self.voice is not None and bool(self.voice.connected(guild.id))

    async def speak(self, guild: discord.Guild | None, reply: Reply) -> bool:
        """Play a posted reply in the guild's voice channel, when the bot is in one:
        speech as it is, text answers too if ``voice.speak_replies``."""
        if guild is None or self.voice is None or not self.voice.connected(guild.id):
            return False
        media = reply.media
        if media is not None and media.mime.startswith("audio/"):
            return self.voice.enqueue(guild.id, Clip(media.alt[:80], audio=media.data))
        if reply.kind is ReplyKind.ANSWER and self.settings.voice.speak_replies:
            text = await reply.text()
            return bool(text) and self.voice.enqueue(guild.id, Clip(text[:80], text=text))
        return False

    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        me = self.user
        if self.voice is not None and me is not None and member.id == me.id and not after.channel:
            self.voice.forget(member.guild.id)  # disconnected from outside

    async def on_slash(self, interaction: discord.Interaction, name: str, args: str) -> None:
        """A slash command: the same core command as ``!name args``."""
        if interaction.user.bot or not self.allowed(interaction.user, interaction.channel):
            await interaction.response.send_message("Not here, sorry.", ephemeral=True)
            return
        prefix = self.core.settings.prefix
        text = f"{prefix}{name} {args}".strip()
        line = self.line(interaction.user, interaction.channel, text, interaction)
        await answer_interaction(self, interaction, line)
