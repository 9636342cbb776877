"""The stream's events on Twitch (EventSub over the same WebSocket client as chat):
follows, raids, subs, resubs, gift subs and cheers are thanked through
:class:`~literai_core.events.Reactions`; channel-point redemptions run a bot command
with the viewer's input and are fulfilled through Helix when it worked, or cancelled
(the viewer gets the points back) when it did not.

Scopes (README, "Twitch events"): follows need ``moderator:read:followers`` on the
token of a moderator of the channel (the bot's, or the broadcaster's); raids need none;
subs, resubs and gifts need ``channel:read:subscriptions``, cheers ``bits:read`` and
redemptions ``channel:manage:redemptions``, all on the broadcaster's own token, which
only serves the broadcaster's own channel. Twitch lets an app update only redemptions
of rewards that the same app (client id) created.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import twitchio
from twitchio import eventsub

from literai_core.chat import ChatLine, Reply, ReplyKind
from literai_core.core import ChatCore
from literai_core.events import Kind, Reactions, StreamEvent

from .settings import BROADCASTER_EVENTS, TwitchSettings

if TYPE_CHECKING:
    from .client import Channel

log = logging.getLogger(__name__)

DONE = (ReplyKind.ANSWER, ReplyKind.MEDIA)
# Each event's subscription, the scope it needs, and whether only the broadcaster's
# token may hold that scope.
SCOPES: dict[str, str] = {
    "follow": "moderator:read:followers",
    "raid": "none",
    "sub": "channel:read:subscriptions",
    "resub": "channel:read:subscriptions",
    "gift": "channel:read:subscriptions",
    "cheer": "bits:read",
    "redemptions": "channel:manage:redemptions",
}


def _payload(kind: str, channel: str, moderator: str) -> eventsub.SubscriptionPayload:
    made: dict[str, Callable[[], eventsub.SubscriptionPayload]] = {
        "follow": lambda: eventsub.ChannelFollowSubscription(
            broadcaster_user_id=channel, moderator_user_id=moderator
        ),
        "raid": lambda: eventsub.ChannelRaidSubscription(to_broadcaster_user_id=channel),
        "sub": lambda: eventsub.ChannelSubscribeSubscription(broadcaster_user_id=channel),
        "resub": lambda: eventsub.ChannelSubscribeMessageSubscription(broadcaster_user_id=channel),
        "gift": lambda: eventsub.ChannelSubscriptionGiftSubscription(broadcaster_user_id=channel),
        "cheer": lambda: eventsub.ChannelCheerSubscription(broadcaster_user_id=channel),
        "redemptions": lambda: eventsub.ChannelPointsRedeemAddSubscription(
            broadcaster_user_id=channel
        ),
    }
    return made[kind]()


def _name(user: twitchio.PartialUser | None) -> str:
    if user is None:
        return ""
    return user.display_name or user.name or "viewer"


class StreamEvents:
    """The client's event half (mixed into ``LiteraiTwitch``)."""

    core: ChatCore
    settings: TwitchSettings
    channels: dict[str, Channel]
    bot_user_id: str
    broadcaster_id: str  # whose token the broadcaster gave ("" if none)
    reactions: Reactions
    clock: Callable[[], float]
    redeemed: dict[str, int]  # fulfilled, cancelled, failed (Helix refused the update)

    if TYPE_CHECKING:  # LiteraiTwitch's and twitchio.Client's

        async def deliver(self, channel: Channel, reply: Reply, reply_to: str | None) -> bool: ...

        async def subscribe_websocket(self, payload: Any, **kwargs: Any) -> Any: ...

    async def subscribe_events(self, channel: Channel) -> None:
        """Subscribe to the events this channel's settings react to; a subscription
        Twitch refuses (a missing scope) is one warning, and the rest go on."""
        wanted = [k for k in SCOPES if k != "redemptions" and self.reactions_on(k)]
        if self.settings.redemptions:
            wanted.append("redemptions")
        own = bool(self.broadcaster_id) and channel.user.id == self.broadcaster_id
        for kind in wanted:
            needs_broadcaster = kind in (*BROADCASTER_EVENTS, "redemptions")
            if needs_broadcaster and not own:
                log.warning(
                    "twitch: %s in %s need that broadcaster's own token (%s)",
                    kind,
                    channel.login,
                    self.settings.broadcaster_token_env,
                )
                continue
            token = self.broadcaster_id if own else self.bot_user_id
            try:
                await self.subscribe_websocket(
                    _payload(kind, channel.user.id, token), token_for=token
                )
            except twitchio.HTTPException as exc:
                log.warning(
                    "twitch: Twitch refused %s events in %s (%s; the token needs %s)",
                    kind,
                    channel.login,
                    exc.status,
                    SCOPES[kind],
                )

    def reactions_on(self, kind: str) -> bool:
        return self.settings.events.of(kind).mode != "off"

    def _thank(
        self, kind: Kind, broadcaster: twitchio.PartialUser, user: str, amount: int = 1
    ) -> None:
        channel = self.channels.get(broadcaster.id)
        if channel is not None:
            self.reactions.offer(StreamEvent(kind, "twitch", channel.login, user, amount))

    async def event_follow(self, payload: twitchio.ChannelFollow) -> None:
        self._thank("follow", payload.broadcaster, _name(payload.user))

    async def event_raid(self, payload: twitchio.ChannelRaid) -> None:
        raider = _name(payload.from_broadcaster)
        self._thank("raid", payload.to_broadcaster, raider, payload.viewer_count)

    async def event_subscription(self, payload: twitchio.ChannelSubscribe) -> None:
        if not payload.gift:  # gifted ones are thanked through their gifter's event
            self._thank("sub", payload.broadcaster, _name(payload.user))

    async def event_subscription_message(
        self, payload: twitchio.ChannelSubscriptionMessage
    ) -> None:
        self._thank("resub", payload.broadcaster, _name(payload.user))

    async def event_subscription_gift(self, payload: twitchio.ChannelSubscriptionGift) -> None:
        gifter = "" if payload.anonymous else _name(payload.user)
        self._thank("gift", payload.broadcaster, gifter, payload.total)

    async def event_cheer(self, payload: twitchio.ChannelCheer) -> None:
        cheerer = "" if payload.anonymous else _name(payload.user)
        self._thank("cheer", payload.broadcaster, cheerer, payload.bits)

    async def event_custom_redemption_add(
        self, payload: twitchio.ChannelPointsRedemptionAdd
    ) -> None:
        """Run the reward's command with the viewer's input; fulfil it if the answer or
        media went out, else cancel it so the viewer gets the points back."""
        channel = self.channels.get(payload.broadcaster.id)
        titles = {title.casefold(): action for title, action in self.settings.redemptions.items()}
        action = titles.get(payload.reward.title.casefold())
        if channel is None or action is None:
            return  # not a reward of ours: another tool may handle it
        text = f"{self.core.prefix}{action} {payload.user_input}".rstrip()
        line = ChatLine("twitch", channel.login, _name(payload.user), text, self.clock())
        done = False
        try:
            reply = await self.core.handle(line)
            if reply is not None:
                done = await self.deliver(channel, reply, None) and reply.kind in DONE
        finally:
            await self._settle(payload, done)

    async def _settle(self, payload: twitchio.ChannelPointsRedemptionAdd, done: bool) -> None:
        try:
            if done:
                await payload.fulfill(token_for=self.broadcaster_id)
            else:
                await payload.refund(token_for=self.broadcaster_id)
        except twitchio.HTTPException as exc:
            self.redeemed["failed"] += 1
            log.warning(
                "twitch: could not %s a redemption of %r: Twitch answered %s (an app may "
                "only update rewards it created)",
                "fulfil" if done else "cancel",
                payload.reward.title,
                exc.status,
            )
            return
        self.redeemed["fulfilled" if done else "cancelled"] += 1
