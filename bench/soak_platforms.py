"""The three platforms of the soak benchmark, each with its real client library against
its local peer, all on one chat core (as ``literai run`` has): the fake Discord, the
fake Twitch and a real InspIRCd with people played by raw-socket peers. ``say`` posts a
line as a viewer; replies and refusals are tallied as they arrive."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
import zlib
from collections import deque
from pathlib import Path
from typing import Any

import discord
import openai
import twitchio
import twitchio.eventsub.websockets
import twitchio.http
import yarl
from discord.gateway import DiscordWebSocket

from bots.config import ClientSettings
from bots.discord.client import BUSY, LiteraiDiscord
from bots.discord.settings import DiscordSettings
from bots.irc.client import LiteraiIrc
from bots.irc.settings import IrcSettings
from bots.twitch.client import LiteraiTwitch
from bots.twitch.settings import Credentials, TwitchSettings
from literai_core.commands import default_components
from literai_core.core import ChatCore
from literai_core.inference import OpenAIInference
from literai_core.settings import BotSettings
from tests.kit.fake_discord import FakeDiscord
from tests.kit.fake_twitch import BOT_REFRESH, BOT_TOKEN, CLIENT_ID, CLIENT_SECRET, FakeTwitch
from tests.kit.ircd import IrcPeer, start_ircd
from tests.kit.waiting import until

REFUSED = ("slow down", "busy", "Sorry")
WAIT = re.compile(r"slow down — try again in (\d+) s")
IRC_PEERS = 22  # each a few channels: one person does not send every command there
# A part of a Discord digest (answers combined while another is being posted in the
# channel, bots/discord/digest.py): "**name**: text", " …" while it grows.
PART = re.compile(r"^\*\*(.+?)\*\*: (.*\S)", re.MULTILINE)


class Platforms:
    def __init__(
        self, base_url: str, channels: int, folder: Path, tally: Any, history_lines: int = 10
    ) -> None:
        self.base_url, self.folder, self.tally = base_url, folder, tally
        self.history_lines = history_lines
        third = channels // 3
        self.discord_ids = [str(1_200_000_000_000_000_000 + n) for n in range(third)]
        self.twitch_logins = [f"soak{n}" for n in range(third)]
        self.irc_channels = [f"#soak{n}" for n in range(channels - 2 * third)]
        self.channels = [
            *(("discord", c) for c in self.discord_ids),
            *(("twitch", c) for c in self.twitch_logins),
            *(("irc", c) for c in self.irc_channels),
        ]
        # IRC peers cannot see their own message's msgid, but a watcher in every channel
        # can: it pairs each command it sees with the id it was sent as, and the bot's
        # reply names that msgid in its +draft/reply tag.
        self._irc_sent: dict[str, deque[str]] = {c: deque() for c in self.irc_channels}
        self._irc_cid: dict[str, str] = {}  # msgid -> command id
        self._ids = itertools.count()
        self._tasks: list[asyncio.Task[Any]] = []
        self.help_shown: dict[tuple[str, str], float] = {}  # channel -> last help posted
        self._asked_in: dict[str, tuple[str, str]] = {}
        # Discord commands not answered yet, by (channel, asker): a digest part names its
        # asker, not the message it answers. Emptied as they are answered.
        self._open: dict[tuple[str, str], list[str]] = {}

    async def __aenter__(self) -> Platforms:
        # As `literai run` makes it: a model call that takes longer than client.timeout_s
        # fails politely instead of holding a viewer's command for openai's 10 minutes.
        timeout = ClientSettings().timeout_s
        self.api = openai.AsyncOpenAI(
            base_url=self.base_url, api_key="none", max_retries=0, timeout=timeout
        )
        # The summary history is a bounded store (500 lines a channel by default); at 0.1
        # lines a second a channel it would still be filling after 80 minutes, which is
        # growth by design, not a leak. Kept at 10 lines, it is full after the warm-up, so
        # what grows after it is what the soak is for.
        history = {"history_lines": self.history_lines}
        bot = BotSettings(channel_cooldown_s=0, channel_queue=8, summary=history)  # type: ignore[call-arg, arg-type]
        self.core = ChatCore(bot, OpenAIInference(self.api, "smollm2"), default_components())
        await self._discord()
        await self._twitch()
        await self._irc()
        self._tasks.append(asyncio.create_task(self._watch()))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.discord.close()
        await self.twitch.close()
        await self.irc.close()
        for peer in (*self.peers, self.watcher):
            await peer.close()
        self.ircd.stop()
        await self.fake_discord.stop()
        await self.fake_twitch.stop()
        await self.core.aclose()
        await self.api.close()

    async def _discord(self) -> None:
        self.fake_discord = FakeDiscord()
        await self.fake_discord.start()
        discord.http.Route.BASE = self.fake_discord.api_base  # type: ignore[misc]
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.fake_discord.gateway)
        settings = DiscordSettings(slash_commands=False, voice={"enabled": False})  # type: ignore[call-arg, arg-type]
        self.discord = LiteraiDiscord(self.core, settings)
        self._tasks.append(asyncio.create_task(self.discord.start("test-token")))
        await asyncio.wait_for(self.discord.ready_event.wait(), 60)

    async def _twitch(self) -> None:
        self.fake_twitch = FakeTwitch()
        await self.fake_twitch.start()
        twitchio.http.Route.BASE = self.fake_twitch.api_base  # type: ignore[misc]
        twitchio.http.Route.ID_BASE = self.fake_twitch.id_base  # type: ignore[misc]
        twitchio.eventsub.websockets.WSS = self.fake_twitch.eventsub
        credentials = Credentials(CLIENT_ID, CLIENT_SECRET, BOT_TOKEN, BOT_REFRESH)
        settings = TwitchSettings(channels=self.twitch_logins)  # type: ignore[call-arg]
        self.twitch = LiteraiTwitch(self.core, settings, credentials)
        start = self.twitch.start(with_adapter=False, load_tokens=False, save_tokens=False)
        self._tasks.append(asyncio.create_task(start))
        await until(lambda: len(self.fake_twitch.subscriptions) >= len(self.twitch_logins), 60)

    async def _irc(self) -> None:
        self.ircd = start_ircd(self.folder / "ircd")
        settings = IrcSettings(  # type: ignore[call-arg]
            host=self.ircd.host, port=self.ircd.port, tls=False, channels=self.irc_channels
        )
        self.irc = LiteraiIrc(self.core, settings, password=self.ircd.password)
        self._tasks.append(asyncio.create_task(self.irc.run()))
        await asyncio.wait_for(self.irc.ready.wait(), 60)
        self.peers = [IrcPeer(self.ircd, f"peer{n}") for n in range(IRC_PEERS)]
        for n, peer in enumerate(self.peers):  # each peer speaks in its share of channels
            await peer.connect()
            for channel in self.irc_channels[n::IRC_PEERS]:
                await peer.join(channel)
        self.watcher = IrcPeer(self.ircd, "watcher")
        await self.watcher.connect()
        for channel in self.irc_channels:
            await self.watcher.join(channel)

    async def say(self, channel: tuple[str, str], viewer: str, text: str) -> str:
        """Post ``text`` as ``viewer``; the id its reply will be known by."""
        cid = await self._say(channel, viewer, text)
        if not text.startswith("!"):
            # Only commands are tallied: this process's memory is what the soak
            # measures, and a record per chat line (32,400 in 27 minutes, about 10 MiB
            # with the sender) grew it as if the bots had.
            return cid
        self._asked_in[cid] = channel
        if channel[0] == "discord" and text != "!help":
            self._open.setdefault((channel[1], viewer), []).append(cid)
        irc = channel[0] == "irc"
        self.tally.sender_of[cid] = self.peers[self._peer(channel[1])].nick if irc else viewer
        if text == "!help":
            # The bot's quiet period starts when it handles a help, between the send
            # and the reply's arrival: from the send until 30 s after the arrival, a
            # help may be collapsed (one that is answered anyway still counts).
            shown = self.help_shown.get(channel)
            if shown is not None and time.monotonic() - shown < 30:
                self.tally.collapsed.add(cid)
            else:
                self.help_shown[channel] = time.monotonic()
        return cid

    async def _say(self, channel: tuple[str, str], viewer: str, text: str) -> str:
        platform, name = channel
        uid = str(5000 + zlib.crc32(viewer.encode()) % 100_000)
        if platform == "discord":
            return await self.fake_discord.user_says(
                text, user_id=str(1_100_000_000_000_100_000 + int(uid)), name=viewer,
                channel_id=name,
            )  # fmt: skip
        if platform == "twitch":
            return await self.fake_twitch.chat(text, user_id=uid, login=viewer, channel=name)
        await self.peers[self._peer(name)].say(name, text)
        cid = f"irc:{name}:{next(self._ids)}"
        if text.startswith("!"):
            self._irc_sent[name].append(cid)
        return cid

    def _peer(self, channel: str) -> int:
        """The IRC peer who speaks in ``channel`` (each speaks in a few)."""
        return self.irc_channels.index(channel) % IRC_PEERS

    async def _watch(self) -> None:
        """Tally first replies and refusals as they arrive, every 0.2 s, and drop the
        fakes' records once read (their memory is not the bot's)."""
        while True:
            actions = self.fake_discord.actions
            read = len(actions)
            for a in actions[:read]:
                if a.kind == "react" and a.content == BUSY:
                    self.tally.refused.add(a.message_id)
                    self._close(a.message_id)
                elif a.kind == "send" and a.reference:
                    self._first(a.reference, a.content, a.at)
                elif a.kind in ("send", "edit"):
                    self._digest(a.channel_id, a.content, a.at)
            # The fake keeps recent messages for edits and replies; 1,000 is full
            # within the warm-up (about 7 a second), so its store does not grow later
            # and count as the bots' memory (5,000 took 11 minutes to fill).
            self.fake_discord.forget(read, keep_messages=1000)
            sent = self.fake_twitch.sent
            read = len(sent)
            for s in sent[:read]:
                if s.reply_to:
                    self._first(s.reply_to, s.text, s.at)
            del sent[:read]
            self._watch_irc()
            await asyncio.sleep(0.2)

    def _watch_irc(self) -> None:
        for peer in self.peers:
            peer.lines.clear()  # the peers only speak; the watcher reads
        lines = self.watcher.lines
        read = len(lines)
        for line in lines[:read]:
            if line.command != "PRIVMSG":
                continue
            channel, text = line.params[0], line.params[-1]
            if line.nick.startswith("peer") and text.startswith("!"):
                sent = self._irc_sent.get(channel)
                if sent and "msgid" in line.tags:
                    cid = sent.popleft()
                    self._irc_cid[line.tags["msgid"]] = cid
                    self.tally.relayed.add(cid)
            elif line.nick == "literai" and "+draft/reply" in line.tags:
                cid = self._irc_cid.pop(line.tags["+draft/reply"], None)
                if cid is not None:
                    self._first(cid, text, line.at)
        del lines[:read]

    def _digest(self, channel: str, text: str, at: float) -> None:
        """The parts of a digest with text: the oldest open command of each asker."""
        for name, said in PART.findall(text):
            waiting = self._open.get((channel, name))
            if waiting and said.rstrip("… "):
                self.tally.combined.add(waiting[0])
                self._first(waiting[0], said, at)

    def _close(self, cid: str) -> None:
        channel = self._asked_in.get(cid)
        if channel is not None and channel[0] == "discord":
            key = (channel[1], self.tally.sender_of.get(cid, ""))
            waiting = self._open.get(key, [])
            if cid in waiting:
                waiting.remove(cid)
            if not waiting:
                self._open.pop(key, None)

    def _first(self, cid: str, text: str, at: float) -> None:
        if text.startswith("Commands:"):
            platform = self.tally.platform_of.get(cid)
            channel = next((c for c in self.channels if platform and c[0] == platform
                            and self._asked_in.get(cid) == c), None)  # fmt: skip
            if channel is not None:
                self.help_shown[channel] = max(at, self.help_shown.get(channel, at))
        self._close(cid)
        if cid not in self.tally.asked or cid in self.tally.answered:
            return
        self.tally.answered[cid] = at
        if any(word in text for word in REFUSED):
            self.tally.refused.add(cid)
        wait = WAIT.search(text)
        if wait is not None:
            asked = self.tally.asked[cid]
            who = (self.tally.platform_of[cid], self.tally.sender_of.get(cid, ""))
            self.tally.quiet.append((*who, asked, asked + int(wait.group(1))))
