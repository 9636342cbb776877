"""A small fake of Twitch on loopback: id.twitch.tv (fake_twitch_id.py), the Helix
calls the bot makes, and the EventSub WebSocket. Enough for the real twitchio 3
to log in, subscribe to chat and send messages. Payloads follow Twitch's documented
examples (fixtures in tests/kit/fixtures/twitch/)."""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from .fake_twitch_id import (
    BOT_ID,
    BOT_LOGIN,
    BOT_REFRESH,
    BOT_TOKEN,
    BROADCASTER_ID,
    BROADCASTER_LOGIN,
    BROADCASTER_REFRESH,
    BROADCASTER_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    TwitchIdentity,
    _json,
)
from .loopback import LoopbackFake

__all__ = [
    "BOT_ID", "BOT_LOGIN", "BOT_REFRESH", "BOT_TOKEN", "BROADCASTER_ID", "BROADCASTER_LOGIN",
    "BROADCASTER_REFRESH", "BROADCASTER_TOKEN", "CLIENT_ID", "CLIENT_SECRET", "FakeTwitch",
    "Sent", "channel_id", "fixture",
]  # fmt: skip
FIXTURES = Path(__file__).parent / "fixtures" / "twitch"
# Subscription types Twitch accepts only with the broadcaster's own token.
BROADCASTER_ONLY = {
    "channel.subscribe", "channel.subscription.message", "channel.subscription.gift",
    "channel.cheer", "channel.channel_points_custom_reward_redemption.add",
}  # fmt: skip


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@dataclass
class Sent:
    """One Helix POST /chat/messages."""

    broadcaster_id: str
    sender_id: str
    text: str
    reply_to: str | None
    token: str
    at: float


class FakeTwitch(TwitchIdentity, LoopbackFake):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Sent] = []
        self.subscriptions: list[dict[str, Any]] = []
        self.refused_types: set[str] = set()  # tests: subscriptions whose scope is missing
        self.sockets: dict[str, web.WebSocketResponse] = {}  # EventSub session -> socket
        self.keepalive_s = 2.0
        self.keepalives_paused = False  # tests: Twitch goes quiet without closing
        self.connections = 0  # EventSub WebSocket connections made so far
        self.connected = asyncio.Event()
        self.subscribed = asyncio.Event()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/id/oauth2/token", self._token)
        app.router.add_get("/id/oauth2/validate", self._validate)
        app.router.add_get("/helix/users", self._users)
        app.router.add_post("/helix/eventsub/subscriptions", self._subscribe)
        app.router.add_get("/helix/eventsub/subscriptions", self._list_subscriptions)
        app.router.add_delete("/helix/eventsub/subscriptions", self._unsubscribe)
        app.router.add_post("/helix/chat/messages", self._chat)
        app.router.add_get("/ws", self._eventsub)

    @property
    def api_base(self) -> str:
        return self.url("/helix/")

    @property
    def id_base(self) -> str:
        return self.url("/id/")

    @property
    def eventsub(self) -> str:
        return self.url("/ws", "ws")

    # -- Helix -----------------------------------------------------------------------

    def _bearer(self, request: web.Request) -> str | None:
        if request.headers.get("Client-Id") != CLIENT_ID:
            return None
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        known = self.user_tokens | self.app_tokens | self.broadcaster_tokens
        return token if token in known else None

    def _unauthorized(self) -> web.Response:
        body = {"error": "Unauthorized", "status": 401, "message": "Invalid OAuth token"}
        return _json(body, 401)

    async def _users(self, request: web.Request) -> web.Response:
        if self._bearer(request) is None:
            return self._unauthorized()
        logins = {v.lower() for v in request.query.getall("login", [])}
        ids = set(request.query.getall("id", []))
        users = [u for u in fixture("users")["data"] if u["login"] in logins or u["id"] in ids]
        known = {u["login"] for u in users}
        for login in sorted(logins - known):  # any other channel exists too (benchmarks)
            users.append({**fixture("users")["data"][0], "login": login,
                          "display_name": login, "id": channel_id(login)})  # fmt: skip
        return _json({"data": users})

    async def _subscribe(self, request: web.Request) -> web.Response:
        token = self._bearer(request)
        if token is None or token in self.app_tokens:  # websockets need a user token
            return self._unauthorized()
        body = await request.json()
        owner = BROADCASTER_ID if token in self.broadcaster_tokens else BOT_ID
        broadcaster_only = body["type"] in BROADCASTER_ONLY
        if body["type"] in self.refused_types or (
            broadcaster_only and body["condition"].get("broadcaster_user_id") != owner
        ):
            why = "subscription missing proper authorization"
            return _json({"error": "Forbidden", "status": 403, "message": why}, 403)
        sub = {
            "id": str(uuid.uuid4()),
            "status": "enabled",
            "type": body["type"],
            "version": body["version"],
            "condition": body["condition"],
            "created_at": "2026-11-22T12:00:00.000000000Z",
            "transport": {
                "method": "websocket",
                "session_id": body["transport"]["session_id"],
                "connected_at": "2026-11-22T12:00:00.000000000Z",
            },
            "cost": 0,
        }
        self.subscriptions.append(sub)
        self.subscribed.set()
        total = len(self.subscriptions)
        body = {"data": [sub], "total": total, "total_cost": 0, "max_total_cost": 10}
        return _json(body, 202)

    async def _list_subscriptions(self, request: web.Request) -> web.Response:
        return _json({"data": self.subscriptions, "total": len(self.subscriptions)})

    async def _unsubscribe(self, request: web.Request) -> web.Response:
        sid = request.query.get("id")
        self.subscriptions = [s for s in self.subscriptions if s["id"] != sid]
        return web.Response(status=204)

    async def _chat(self, request: web.Request) -> web.Response:
        token = self._bearer(request)
        if token is None:
            return self._unauthorized()
        body = await request.json()
        if body.get("sender_id") != BOT_ID or token in self.app_tokens:
            return _json({"error": "Forbidden", "status": 403, "message": "wrong sender"}, 403)
        if len(body.get("message", "")) > 500:
            return _json({"error": "Bad Request", "status": 400, "message": "too long"}, 400)
        self.sent.append(
            Sent(
                body["broadcaster_id"],
                body["sender_id"],
                body["message"],
                body.get("reply_parent_message_id"),
                token,
                time.monotonic(),
            )
        )
        mid = str(uuid.uuid4())
        return _json({"data": [{"message_id": mid, "is_sent": True, "drop_reason": None}]})

    # -- EventSub WebSocket ------------------------------------------------------------

    async def _eventsub(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        # A reconnect keeps its session (Twitch's); else a new one. twitchio opens one
        # socket per token: the bot's, and the broadcaster's for their events.
        session = request.query.get("reconnect") or f"session-{uuid.uuid4().hex[:16]}"
        self.sockets[session] = ws
        welcome = fixture("session_welcome")
        welcome["payload"]["session"]["id"] = session
        await ws.send_json(welcome)
        self.connected.set()
        keepalive = asyncio.create_task(self._keepalive(ws))
        try:
            async for _ in ws:  # the client sends nothing over EventSub
                pass
        finally:
            keepalive.cancel()
            if self.sockets.get(session) is ws:
                del self.sockets[session]
        return ws

    async def stop(self) -> None:
        for ws in list(self.sockets.values()):
            await ws.close()
        await super().stop()

    async def notify(self, note: dict[str, Any], broadcaster: str = BROADCASTER_ID) -> None:
        """Send a notification to the socket of the subscription of its type (and
        broadcaster) that the client made; fails if it made none."""
        kind = note["metadata"]["subscription_type"]
        subs = [s for s in self.subscriptions if s["type"] == kind
                and broadcaster in s["condition"].values()]  # fmt: skip
        assert subs, f"no {kind} subscription for {broadcaster}"
        session = subs[-1]["transport"]["session_id"]
        note["payload"]["subscription"] = copy.deepcopy(subs[-1])
        await self.sockets[session].send_json(note)

    async def _keepalive(self, ws: web.WebSocketResponse) -> None:
        while not ws.closed:
            await asyncio.sleep(self.keepalive_s)
            if self.keepalives_paused:
                continue
            await ws.send_json(
                {
                    "metadata": {
                        "message_id": str(uuid.uuid4()),
                        "message_type": "session_keepalive",
                        "message_timestamp": "2026-11-22T12:00:00.000000000Z",
                    },
                    "payload": {},
                }
            )

    async def reconnect(self) -> None:
        """Twitch moving the bot to another edge: a session_reconnect message with a
        new URL on the current connection; returns once the new one is welcomed."""
        (chat,) = [s for s in self.subscriptions if s["type"] == "channel.chat.message"]
        session = chat["transport"]["session_id"]
        self.connected.clear()
        note = {
            "metadata": {"message_id": str(uuid.uuid4()), "message_type": "session_reconnect",
                         "message_timestamp": "2026-11-22T12:00:00.000000000Z"},
            "payload": {"session": {"id": session, "status": "reconnecting",
                                    "keepalive_timeout_seconds": None,
                                    "reconnect_url": f"{self.eventsub}?reconnect={session}",
                                    "connected_at": "2026-11-22T12:00:00.000000000Z"}},
        }  # fmt: skip
        await self.sockets[session].send_json(note)
        await asyncio.wait_for(self.connected.wait(), 30)

    async def chat(
        self,
        text: str,
        *,
        user_id: str = "4145994",
        login: str = "viewer32",
        badges: list[str] = (),  # type: ignore[assignment]
        channel: str = BROADCASTER_LOGIN,
    ) -> str:
        """A viewer says ``text``: a channel.chat.message notification; returns its id."""
        note = copy.deepcopy(fixture("chat_message_notification"))
        note["metadata"]["message_id"] = str(uuid.uuid4())
        event = note["payload"]["event"]
        mid = str(uuid.uuid4())
        broadcaster = BROADCASTER_ID if channel == BROADCASTER_LOGIN else channel_id(channel)
        event.update(
            broadcaster_user_id=broadcaster,
            broadcaster_user_login=channel,
            broadcaster_user_name=channel,
            chatter_user_id=user_id,
            chatter_user_login=login,
            chatter_user_name=login,
            message_id=mid,
            message={"text": text, "fragments": [_fragment(text)]},
            badges=[{"set_id": b, "id": "1", "info": ""} for b in badges],
        )
        await self.notify(note, broadcaster)
        return mid


def channel_id(login: str) -> str:
    """The user id the fake gives a channel it does not otherwise know."""
    return str(3_000_000 + zlib.crc32(login.encode()) % 1_000_000)


def _fragment(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text, "cheermote": None, "emote": None, "mention": None}
