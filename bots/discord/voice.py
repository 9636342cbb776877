"""Speech in Discord voice channels: ``!join``, ``!leave``, ``!skip``, ``!stop``, one
bounded playback queue per guild, replies spoken while connected (if configured), and
leaving after an idle time.

Playback is discord.py's own pipeline: ``FFmpegPCMAudio`` (real ffmpeg, fed the WAV
bytes on stdin) into ``VoiceClient.play``, which encodes Opus with libopus on its player
thread. Nothing here blocks the event loop: ffmpeg is started on a worker thread and
the player reports back through ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes.util
import io
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import discord

from literai_core.chat import Reply, ReplyKind
from literai_core.router import Component, Context, command

from .settings import DiscordVoiceSettings

log = logging.getLogger(__name__)


class OpusMissing(RuntimeError):
    pass


def load_opus() -> None:
    """Load libopus explicitly: discord.py does it by itself only on Windows."""
    if discord.opus.is_loaded():
        return
    name = ctypes.util.find_library("opus") or "libopus.so.0"
    try:
        discord.opus.load_opus(name)
    except OSError as exc:
        raise OpusMissing(
            f"discord.voice: libopus could not be loaded ({exc}); install it "
            "(Debian: apt-get install libopus0) or set discord.voice.enabled: false"
        ) from None


@dataclass
class Clip:
    """Something to play: WAV bytes, or text to synthesize when its turn comes."""

    label: str
    audio: bytes | None = None
    text: str | None = None


Synthesize = Callable[[str], Awaitable[bytes]]


class GuildVoice:
    """One guild's connection, queue and player task."""

    def __init__(self, vc: discord.VoiceClient, size: int) -> None:
        self.vc = vc
        self.queue: asyncio.Queue[Clip] = asyncio.Queue(size)
        self.task: asyncio.Task[None] | None = None
        self.played = 0


class Voice:
    def __init__(
        self,
        settings: DiscordVoiceSettings,
        synthesize: Synthesize,
        voice_cls: type[discord.VoiceClient] = discord.VoiceClient,
    ) -> None:
        self.settings = settings
        self.synthesize = synthesize
        self.voice_cls = voice_cls
        self.guilds: dict[int, GuildVoice] = {}

    def connected(self, guild_id: int) -> GuildVoice | None:
        gv = self.guilds.get(guild_id)
        return gv if gv is not None and gv.vc.is_connected() else None

    async def join(self, channel: discord.VoiceChannel | discord.StageChannel) -> GuildVoice:
        """Connect to ``channel`` (or move there); raises discord errors on failure."""
        gv = self.guilds.get(channel.guild.id)
        if gv is not None:
            if gv.vc.channel.id != channel.id:
                await gv.vc.move_to(channel, timeout=self.settings.connect_timeout_s)
            return gv
        vc = await channel.connect(
            cls=self.voice_cls, timeout=self.settings.connect_timeout_s, self_deaf=True
        )
        gv = GuildVoice(vc, self.settings.queue)
        self.guilds[channel.guild.id] = gv
        gv.task = asyncio.create_task(self._player(channel.guild.id, gv))
        return gv

    async def leave(self, guild_id: int) -> bool:
        gv = self.guilds.pop(guild_id, None)
        if gv is None:
            return False
        if gv.task is not None and gv.task is not asyncio.current_task():
            gv.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gv.task
        gv.vc.stop()
        with contextlib.suppress(discord.DiscordException, OSError):
            await gv.vc.disconnect(force=True)
        return True

    def forget(self, guild_id: int) -> None:
        """The bot was disconnected from outside (moved out, kicked): drop the state."""
        gv = self.guilds.pop(guild_id, None)
        if gv is not None and gv.task is not None:
            gv.task.cancel()

    def enqueue(self, guild_id: int, clip: Clip) -> bool:
        """Queue a clip where the bot is connected; False if not connected or full."""
        gv = self.connected(guild_id)
        if gv is None:
            return False
        try:
            gv.queue.put_nowait(clip)
        except asyncio.QueueFull:
            log.info("discord voice: queue full in guild %s, %r not played", guild_id, clip.label)
            return False
        return True

    def skip(self, guild_id: int) -> bool:
        gv = self.connected(guild_id)
        if gv is None or not gv.vc.is_playing():
            return False
        gv.vc.stop()  # the player's ``after`` fires and the next clip starts
        return True

    def stop(self, guild_id: int) -> int:
        """Stop playing and empty the queue; returns how many clips were dropped."""
        gv = self.connected(guild_id)
        if gv is None:
            return 0
        dropped = 0
        while not gv.queue.empty():
            gv.queue.get_nowait()
            dropped += 1
        if gv.vc.is_playing():
            gv.vc.stop()
            dropped += 1
        return dropped

    async def close(self) -> None:
        for guild_id in list(self.guilds):
            await self.leave(guild_id)

    async def _player(self, guild_id: int, gv: GuildVoice) -> None:
        while True:
            idle = self.settings.idle_leave_s or None  # may change with !reload
            try:
                clip = await asyncio.wait_for(gv.queue.get(), idle)
            except TimeoutError:
                log.info("discord voice: idle for %.0f s in guild %s, leaving", idle, guild_id)
                await self.leave(guild_id)
                return
            if not gv.vc.is_connected():
                self.guilds.pop(guild_id, None)
                return
            try:
                await self._play(gv, clip)
            except Exception as exc:  # one bad clip must not end the guild's player
                log.warning("discord voice: could not play %r: %s", clip.label, exc)

    async def _play(self, gv: GuildVoice, clip: Clip) -> None:
        audio = clip.audio
        if audio is None:
            assert clip.text is not None
            audio = await self.synthesize(clip.text)
        # Starting ffmpeg is a fork/exec: off the loop.
        source = await asyncio.to_thread(
            discord.FFmpegPCMAudio, io.BytesIO(audio), pipe=True, options="-loglevel error"
        )
        loop = asyncio.get_running_loop()
        finished: asyncio.Future[BaseException | None] = loop.create_future()

        def after(error: Exception | None) -> None:  # on the player thread
            loop.call_soon_threadsafe(_settle, finished, error)

        try:
            gv.vc.play(source, after=after)
        except Exception:
            source.cleanup()
            raise
        try:
            error = await finished
        except asyncio.CancelledError:
            gv.vc.stop()
            raise
        gv.played += 1
        if error is not None:
            raise error


def _settle(future: asyncio.Future[BaseException | None], error: BaseException | None) -> None:
    if not future.done():
        future.set_result(error)


def _member(source: Any) -> discord.Member | None:
    """The person behind a message or an interaction, if in a guild."""
    who = getattr(source, "author", None) or getattr(source, "user", None)
    return who if isinstance(who, discord.Member) else None


class VoiceCommands(Component):
    """Discord-only commands; the platform event rides on ``ChatLine.source``."""

    def __init__(self, voice: Voice) -> None:
        self.voice = voice

    def _notice(self, ctx: Context, text: str) -> Reply:
        return Reply(ctx.line, ReplyKind.NOTICE, text)

    @command("join", uses_model=False, platforms=("discord",))
    async def join(self, ctx: Context) -> Reply:
        """!join

        Join your voice channel and speak there.
        """
        member = _member(ctx.line.source)
        if member is None:
            return self._notice(ctx, "Voice works in servers, not in DMs.")
        state = member.voice
        if state is None or state.channel is None:
            return self._notice(ctx, "Join a voice channel first, then ask me again.")
        channel = state.channel
        me = channel.guild.me
        perms = channel.permissions_for(me)
        if not (perms.connect and perms.speak):
            return self._notice(ctx, f"I'm not allowed to connect and speak in {channel.name}.")
        try:
            await self.voice.join(channel)
        except (discord.DiscordException, TimeoutError, OSError) as exc:
            log.warning("discord voice: could not join %s: %s", channel.id, exc)
            return self._notice(ctx, f"Sorry, I couldn't join {channel.name}.")
        return self._notice(ctx, f"Joined {channel.name}. !leave when you're done.")

    @command("leave", uses_model=False, platforms=("discord",))
    async def leave(self, ctx: Context) -> Reply:
        """!leave

        Leave the voice channel.
        """
        member = _member(ctx.line.source)
        if member is None or not await self.voice.leave(member.guild.id):
            return self._notice(ctx, "I'm not in a voice channel here.")
        return self._notice(ctx, "Left the voice channel.")

    @command("skip", uses_model=False, platforms=("discord",))
    async def skip(self, ctx: Context) -> Reply:
        """!skip

        Skip what I'm saying in voice now.
        """
        member = _member(ctx.line.source)
        if member is None or not self.voice.skip(member.guild.id):
            return self._notice(ctx, "Nothing is playing.")
        return self._notice(ctx, "Skipped.")

    @command("stop", uses_model=False, platforms=("discord",))
    async def stop(self, ctx: Context) -> Reply:
        """!stop

        Stop speaking in voice and drop what is queued.
        """
        member = _member(ctx.line.source)
        dropped = 0 if member is None else self.voice.stop(member.guild.id)
        if not dropped:
            return self._notice(ctx, "Nothing is playing.")
        return self._notice(ctx, f"Stopped ({dropped} clip{'s' if dropped != 1 else ''}).")
