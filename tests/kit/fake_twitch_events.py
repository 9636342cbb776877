"""The stream's events on the fake Twitch: EventSub notifications for follows, raids,
subs, resubs, gift subs, cheers and channel-point redemptions (event bodies from
Twitch's EventSub reference: fixtures/twitch/events.json), and Helix's update of a
redemption's status (PATCH /channel_points/custom_rewards/redemptions)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from aiohttp import web

from .fake_twitch import BROADCASTER_ID, FakeTwitch, _json, fixture

REDEMPTION = "channel.channel_points_custom_reward_redemption.add"
FOREIGN = "The ID in header Client-Id must match the client ID used to create the custom reward."


class FakeTwitchStream(FakeTwitch):
    def __init__(self) -> None:
        super().__init__()
        self.updates: list[dict[str, str]] = []  # each redemption status update, in order
        self.foreign_rewards: set[str] = set()  # rewards another app made: not ours to update

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_patch("/helix/channel_points/custom_rewards/redemptions", self._update)

    async def event(self, kind: str, **fields: Any) -> dict[str, Any]:
        """A ``kind`` notification (``channel.follow``...): the reference's event with
        ``fields`` changed, sent on the socket of the client's subscription to it."""
        event = copy.deepcopy(fixture("events")[kind])
        event.update(fields)
        note = {
            "metadata": {
                "message_id": str(uuid.uuid4()),
                "message_type": "notification",
                "message_timestamp": "2026-12-01T20:00:00.000000000Z",
                "subscription_type": kind,
                "subscription_version": "2" if kind == "channel.follow" else "1",
            },
            "payload": {"subscription": {}, "event": event},
        }
        channel = event.get("broadcaster_user_id") or event["to_broadcaster_user_id"]
        await self.notify(note, channel)
        return event

    async def redeem(
        self, title: str, text: str = "", *, login: str = "viewer32", reward: str = ""
    ) -> str:
        """A viewer redeems the reward ``title`` with ``text``; returns its id."""
        rid = str(uuid.uuid4())
        base = fixture("events")[REDEMPTION]["reward"]
        found = {**base, "title": title, "id": reward or base["id"]}
        await self.event(REDEMPTION, id=rid, user_login=login, user_name=login,
                         user_input=text, reward=found)  # fmt: skip
        return rid

    async def _update(self, request: web.Request) -> web.Response:
        token = self._bearer(request)
        q = request.query
        if token is None:
            return self._unauthorized()
        if token not in self.broadcaster_tokens or q.get("broadcaster_id") != BROADCASTER_ID:
            return _json({"error": "Forbidden", "status": 403, "message": "wrong user"}, 403)
        if q.get("reward_id") in self.foreign_rewards:
            return _json({"error": "Forbidden", "status": 403, "message": FOREIGN}, 403)
        status = (await request.json())["status"]
        self.updates.append({"id": q["id"], "reward_id": q["reward_id"], "status": status})
        event = fixture("events")[REDEMPTION]
        done = {
            "broadcaster_name": "Streamer", "broadcaster_login": "streamer",
            "broadcaster_id": BROADCASTER_ID, "id": q["id"], "user_id": event["user_id"],
            "user_name": event["user_name"], "user_login": event["user_login"],
            "user_input": event["user_input"], "status": status,
            "redeemed_at": event["redeemed_at"], "reward": event["reward"],
        }  # fmt: skip
        return _json({"data": [done]})
