"""The Twitch client (twitchio 3): chat arrives over EventSub WebSocket
(``channel.chat.message``), replies go out through Helix ``POST /chat/messages`` as the
bot's own account, threaded to the asking message.

Twitch chat is text only: a reply is split at 500 characters on word boundaries, and
images and speech go to the stream overlay while the chat gets a short line. Each
channel has a send queue paced to Twitch's limit (20 messages per 30 s, 100 once the bot
is a moderator there: seen from the badges on its own messages); a full queue refuses
the command out loud instead of dropping it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

import twitchio
import twitchio.eventsub.websockets
import twitchio.http
from twitchio import eventsub

from literai_core.chat import ChatLine, Reply, ReplyKind
from literai_core.core import ChatCore
from literai_core.events import Reactions
from literai_core.router import Component

from ..outbox import Outbox
from ..pacing import Pacer
from ..split import not_a_command, split_message
from .events import StreamEvents
from .settings import Credentials, TwitchSettings

log = logging.getLogger(__name__)
# twitchio warns on every start that its optional Starlette adapter is missing; we use
# neither adapter (no OAuth web flow: tokens come from the environment).
logging.getLogger("twitchio.client").addFilter(
    lambda record: "StarletteAdapter" not in record.getMessage()
)

LIMIT = 500
WINDOW_S = 30.0
MODERATOR_RATE = 100


def point_at(api: str | None, id_base: str | None, eventsub_url: str | None) -> None:
    """Talk to a Twitch-compatible server instead of Twitch (twitchio keeps these as
    module and class attributes, so they are per process)."""
    if api:
        twitchio.http.Route.BASE = api.rstrip("/") + "/"
    if id_base:
        twitchio.http.Route.ID_BASE = id_base.rstrip("/") + "/"
    if eventsub_url:
        twitchio.eventsub.websockets.WSS = eventsub_url


class TwitchSetupError(RuntimeError):
    """Something the streamer must fix in the Twitch setup; the message is one line."""


def roles_of(message: twitchio.ChatMessage) -> frozenset[str]:
    chatter = message.chatter
    roles = {badge.set_id for badge in message.badges}
    if chatter.broadcaster:
        roles.add("broadcaster")
    if chatter.moderator:
        roles.add("moderator")
    return frozenset(roles)


class Channel:
    """One joined channel: its broadcaster and its paced, bounded outbox."""

    def __init__(self, login: str, user: twitchio.PartialUser, outbox: Outbox[str | None]):
        self.login = login
        self.user = user
        self.outbox = outbox


class LiteraiTwitch(StreamEvents, twitchio.Client):
    platform = "twitch"

    def __init__(
        self,
        core: ChatCore,
        settings: TwitchSettings,
        credentials: Credentials,
        *,
        overlay: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            fetch_client_user=False,
        )
        self.core = core
        self.settings = settings
        self.overlay = overlay
        self.clock = clock
        self.sleep = sleep  # the outboxes' pacing waits, on ``clock``'s time
        self._credentials = credentials
        self.channels: dict[str, Channel] = {}  # broadcaster id -> channel
        self.ready_event = asyncio.Event()
        self.bot_user_id = ""
        self.broadcaster_id = ""
        self.reactions = Reactions(core, settings.events, clock, sleep)
        self.redeemed = {"fulfilled": 0, "cancelled": 0, "failed": 0}
        core.attach(self)

    def components(self) -> Sequence[Component]:
        return ()

    async def setup_hook(self) -> None:
        """Add the bot's own token (and the broadcaster's, for subs, cheers and
        redemptions), find the channels and subscribe to their chat and events."""
        c = self._credentials
        validated = await self.add_token(c.token, c.refresh)
        self.bot_user_id = validated.user_id or ""
        if not self.bot_user_id:
            raise TwitchSetupError("the bot token is an app token; a user token is needed")
        if c.broadcaster_token:
            owner = await self.add_token(c.broadcaster_token, c.broadcaster_refresh)
            self.broadcaster_id = owner.user_id or ""
            if not self.broadcaster_id:
                env = self.settings.broadcaster_token_env
                raise TwitchSetupError(
                    f"{env} is an app token; the broadcaster's user token is needed"
                )
        users = await self.fetch_users(logins=list(self.settings.channels))
        found = {u.name.lower(): u for u in users if u.name}
        for login in self.settings.channels:
            user = found.get(login.lower())
            if user is None:
                log.warning("twitch: no channel named %s", login)
                continue
            channel = Channel(login.lower(), user, self._outbox(login.lower(), user))
            self.channels[user.id] = channel
            channel.outbox.start()
            await self.subscribe_websocket(
                eventsub.ChatMessageSubscription(
                    broadcaster_user_id=user.id, user_id=self.bot_user_id
                ),
                token_for=self.bot_user_id,
            )
            await self.subscribe_events(channel)
        log.info("twitch: chatting as %s in %s", validated.login, ", ".join(self.settings.channels))

    async def event_ready(self) -> None:
        self.ready_event.set()

    async def close(self, **options: object) -> None:
        for channel in self.channels.values():
            channel.outbox.stop()
        await super().close(**options)

    def reconfigure(self, settings: TwitchSettings) -> None:
        """``!reload``: the rate, queue, reactions and rewards apply from now; channels
        and which events are subscribed need a restart."""
        self.settings = settings
        self.reactions.settings = settings.events
        for channel in self.channels.values():
            pacer = channel.outbox.pacer
            pacer.actions = max(pacer.actions, settings.messages_per_30s)

    async def event_message(self, payload: twitchio.ChatMessage) -> None:
        channel = self.channels.get(payload.broadcaster.id)
        if channel is None:
            return
        if payload.chatter.id == self.bot_user_id:
            # Our own message, echoed: its badges tell whether we moderate here.
            pacer = channel.outbox.pacer
            if payload.chatter.moderator and pacer.actions < MODERATOR_RATE:
                log.info("twitch: moderator in %s, up to 100 messages per 30 s", channel.login)
                pacer.actions = MODERATOR_RATE
            return
        line = ChatLine(
            "twitch",
            channel.login,
            payload.chatter.display_name or payload.chatter.name or "viewer",
            payload.text,
            self.clock(),
            roles_of(payload),
            source=payload,
        )
        reply = await self.core.handle(line)
        if reply is not None:
            await self.deliver(channel, reply, payload.id)

    async def announce(self, reply: Reply) -> None:
        """Post where nobody asked just now (a finished podcast, a timed recap)."""
        for channel in self.channels.values():
            if channel.login == reply.line.channel:
                await self.deliver(channel, reply, None)

    async def deliver(self, channel: Channel, reply: Reply, reply_to: str | None) -> bool:
        """Queue the reply's messages; if the queue cannot take them, say so instead.
        Media goes to the overlay; chat gets a short line, or the link to its page.
        True when the reply went out whole (its messages queued, its media shown)."""
        text = await reply.text()
        if reply.media is not None and reply.media.link is not None:
            text = text[:LIMIT]  # the caption carries the link (an episode's player)
        elif reply.media is not None:
            kind = "🎨" if reply.media.mime.startswith("image/") else "🔊"
            text = (
                f"{kind} on screen now: {reply.media.alt}"
                if self.overlay
                else f"{kind} made it, but the stream overlay is off here."
            )[: LIMIT - 1]
        parts = split_message(text, LIMIT) if reply.kind is not ReplyKind.MEDIA else [text]
        parts = [not_a_command(part) for part in parts]
        if not parts:
            return False
        if reply.kind in (ReplyKind.NOTICE, ReplyKind.REFUSED) and len(parts) == 1:
            channel.outbox.notify(parts[0], reply_to)  # always gets out, said once
            return True
        answer = reply.kind is ReplyKind.ANSWER and reply_to is not None and len(parts) == 1
        if answer and channel.outbox.busy():
            # Others wait for the channel's turn: share a message, naming the asker.
            named = not_a_command(f"{reply.line.user}: {parts[0]}")
            if len(named) <= LIMIT and channel.outbox.combine(named, None, LIMIT):
                return True
        messages = [(part, reply_to if i == 0 else None) for i, part in enumerate(parts)]
        if not channel.outbox.offer(messages):
            busy = f"@{reply.line.user} chat is busy — try again in a minute."
            channel.outbox.notify(busy, reply_to)
            log.info("twitch: send queue full in %s, refused a reply", channel.login)
            return False
        return reply.media is None or reply.media.link is not None or self.overlay

    def _outbox(self, login: str, user: twitchio.PartialUser) -> Outbox[str | None]:
        async def send(text: str, reply_to: str | None) -> None:
            sent = await user.send_message(
                text,
                sender=self.bot_user_id,
                token_for=self.bot_user_id,
                reply_to_message_id=reply_to,
            )
            if not sent.sent:
                log.warning(
                    "twitch: message dropped in %s: %s",
                    login,
                    sent.dropped_message or sent.dropped_code,
                )

        pacer = Pacer(self.settings.messages_per_30s, WINDOW_S, self.clock, self.sleep)
        return Outbox(f"twitch {login}", send, pacer, self.settings.send_queue)
