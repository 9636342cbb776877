"""A generic IRC bot on pydle (asyncio; CAP, SASL and IRCv3 message tags). Channel
operators are moderators. Replies are split to fit an IRC line, paced per channel
(flood control), and, where the server offers message tags, marked as replies to the
asking message (``+draft/reply``). A lost connection is retried with backoff, forever;
windows live in the core and survive it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pydle

from literai_core.chat import ChatLine, Reply, ReplyKind
from literai_core.core import ChatCore
from literai_core.router import Component

from ..outbox import Outbox
from ..pacing import Pacer
from ..split import split_bytes, split_message
from .settings import IrcSettings

log = logging.getLogger(__name__)


class IrcBot(pydle.Client):
    RECONNECT_ON_ERROR = False  # LiteraiIrc.run reconnects, with its own backoff

    def __init__(self, owner: LiteraiIrc, settings: IrcSettings, sasl_password: str | None):
        kwargs: dict[str, Any] = {"realname": settings.realname}
        if settings.sasl_username and sasl_password:
            kwargs.update(
                sasl_username=settings.sasl_username,
                sasl_password=sasl_password,
                sasl_identity=settings.sasl_username,
            )
        super().__init__(settings.nick, **kwargs)
        self.owner = owner
        self.joined = asyncio.Event()
        self.gone = asyncio.Event()

    async def on_connect(self) -> None:
        await super().on_connect()
        for channel in self.owner.settings.channels:
            await self.join(channel)

    async def on_join(self, channel: str, user: str) -> None:
        await super().on_join(channel, user)
        if user == self.nickname:
            log.info("irc: joined %s", channel)
            self.joined.set()

    async def on_disconnect(self, expected: bool) -> None:
        await super().on_disconnect(expected)
        self.gone.set()

    async def on_raw_privmsg(self, message: Any) -> None:
        """pydle's own handler drops the tags; the message id is needed for replies."""
        nick, _ = self._parse_user(message.source)
        target, text = message.params[0], message.params[-1]
        tags = getattr(message, "tags", None) or {}
        await super().on_raw_privmsg(message)
        if nick != self.nickname and self.is_channel(target):
            await self.owner.on_line(target, nick, text, tags.get("msgid"))

    def is_op(self, channel: str, nick: str) -> bool:
        modes = self.channels.get(channel, {}).get("modes", {})
        return any(nick in (modes.get(mode) or ()) for mode in ("o", "q", "a"))

    def tags_offered(self) -> bool:
        return "message-tags" in getattr(self, "_capabilities", {}) and bool(
            self._capabilities.get("message-tags")
        )


class LiteraiIrc:
    platform = "irc"

    def __init__(
        self,
        core: ChatCore,
        settings: IrcSettings,
        *,
        password: str | None = None,
        sasl_password: str | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.core = core
        self.settings = settings
        self.password = password
        self.sasl_password = sasl_password
        self.clock = clock or time.monotonic
        self.sleep = sleep or asyncio.sleep  # the outboxes' pacing waits, on ``clock``'s time
        self.bot: IrcBot | None = None
        self.outboxes: dict[str, Outbox[str | None]] = {}
        self.connects = 0
        self.ready = asyncio.Event()
        core.attach(self)

    def components(self) -> Sequence[Component]:
        return ()

    async def run(self) -> None:
        """Connect, and reconnect with backoff whenever the connection is lost."""
        s = self.settings
        attempt = 0
        while True:
            bot = self.bot = IrcBot(self, s, self.sasl_password)
            try:
                await bot.connect(
                    s.host,
                    s.port,
                    tls=s.tls,
                    tls_verify=s.tls_verify,
                    password=self.password,
                )
                self.connects += 1
                attempt = 0
                await bot.joined.wait() if s.channels else None
                self.ready.set()
                await bot.gone.wait()
                log.warning("irc: disconnected from %s", s.host)
            except (OSError, pydle.Error) as exc:
                log.warning("irc: cannot connect to %s:%s: %s", s.host, s.port, exc)
            except asyncio.CancelledError:  # the process is stopping: say goodbye
                await self._quit(bot)
                raise
            finally:
                self.ready.clear()
                if bot.connected:
                    await bot.disconnect(expected=True)
            delay = s.reconnect_delays_s[min(attempt, len(s.reconnect_delays_s) - 1)]
            attempt += 1
            await asyncio.sleep(delay)

    async def close(self) -> None:
        for outbox in self.outboxes.values():
            outbox.stop()
        if self.bot is not None:
            await self._quit(self.bot)

    @staticmethod
    async def _quit(bot: IrcBot) -> None:
        """QUIT, so the channel sees the bot leave rather than time out; bounded, since
        a dead connection must not hold the shutdown."""
        if bot.connected:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(bot.quit("bye"), 2.0)

    def reconfigure(self, settings: IrcSettings) -> None:
        """``!reload``: pacing and line length apply now; the server needs a restart."""
        self.settings = settings
        for outbox in self.outboxes.values():
            outbox.pacer.actions = settings.messages_per_window

    def outbox(self, channel: str) -> Outbox[str | None]:
        key = channel.lower()
        box = self.outboxes.get(key)
        if box is None:
            s = self.settings

            async def send(text: str, reply_to: str | None) -> None:
                bot = self.bot
                if bot is None or not bot.connected:
                    raise ConnectionError("not connected")
                if reply_to and bot.tags_offered():
                    await bot.rawmsg("PRIVMSG", channel, text, tags={"+draft/reply": reply_to})
                else:
                    await bot.message(channel, text)

            pacer = Pacer(s.messages_per_window, s.window_s, self.clock, self.sleep)
            box = self.outboxes[key] = Outbox(f"irc {channel}", send, pacer, s.send_queue)
            box.start()
        return box

    async def on_line(self, channel: str, nick: str, text: str, msgid: str | None) -> None:
        bot = self.bot
        roles = frozenset({"moderator"}) if bot is not None and bot.is_op(channel, nick) else None
        line = ChatLine(
            "irc", channel.lower(), nick, text, self.clock(), roles or frozenset(), source=None
        )
        reply = await self.core.handle(line)
        if reply is not None:
            await self.deliver(channel, reply, msgid)

    async def announce(self, reply: Reply) -> None:
        """Post where nobody asked just now (a finished podcast, a timed recap)."""
        await self.deliver(reply.line.channel, reply, None)

    def line_budget(self, channel: str, msgid: str | None) -> int:
        """Bytes of text that fit one IRC line of 512 with CRLF, as the server relays it:
        our prefix at its longest (ident 10, host 63), the command, the channel, and the
        reply tag when there is one."""
        nick = self.bot.nickname if self.bot is not None else self.settings.nick
        head = f":{nick}!{'u' * 10}@{'h' * 63} PRIVMSG {channel} :"
        tag = f"@+draft/reply={msgid} " if msgid else ""
        return 512 - 2 - len(head.encode()) - len(tag.encode())

    async def deliver(self, channel: str, reply: Reply, msgid: str | None) -> None:
        text = await reply.text()
        if reply.media is not None and reply.media.link is not None:
            pass  # the caption carries the link (an episode's player)
        elif reply.media is not None:
            kind = "🎨" if reply.media.mime.startswith("image/") else "🔊"
            text = f"{kind} that one is for the stream overlay: {reply.media.alt}"
        # One line per message: IRC has no newlines inside a message.
        flat = " ".join(text.split())
        budget = self.line_budget(channel, msgid)
        parts = [
            piece
            for part in split_message(flat, self.settings.max_line_chars)
            for piece in split_bytes(part, budget)
        ]
        messages = [(part, msgid if i == 0 else None) for i, part in enumerate(parts)]
        box = self.outbox(channel)
        if reply.kind in (ReplyKind.NOTICE, ReplyKind.REFUSED) and len(messages) == 1:
            box.notify(*messages[0])  # always gets out, said once
        elif messages and not box.offer(messages):
            box.notify(f"{reply.line.user}: busy — try again in a minute.", msgid)
