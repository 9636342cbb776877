"""A small fake of Twitch on loopback: id.twitch.tv (tokens, validate, refresh), the
Helix calls the bot makes, and the EventSub WebSocket. Enough for the real twitchio 3
to log in, subscribe to chat and send messages. Payloads follow Twitch's documented
examples (fixtures in tests/kit/fixtures/twitch/)."""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import time
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from .loopback import LoopbackFake

FIXTURES = Path(__file__).parent / "fixtures" / "twitch"
CLIENT_ID = "hof5gwx0su6owfnys0nyan9c87zr6t"
CLIENT_SECRET = "41vpdji4e9gif29md0ouet6fktd2"
BOT_TOKEN = "bot-user-token-1"
BOT_REFRESH = "bot-refresh-token"
BOT_ID = "2914196"
BOT_LOGIN = "literaibot"
BROADCASTER_ID = "1971641"
BROADCASTER_LOGIN = "streamer"


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


class FakeTwitch(LoopbackFake):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Sent] = []
        self.subscriptions: list[dict[str, Any]] = []
        self.refreshed = 0
        self.user_tokens = {BOT_TOKEN}  # valid user tokens; tests may expire one
        self.refresh_fails = False  # tests: the refresh token was revoked meanwhile
        self.app_tokens: set[str] = set()
        self.keepalive_s = 2.0
        self.keepalives_paused = False  # tests: Twitch goes quiet without closing
        self.connections = 0  # EventSub WebSocket connections made so far
        self.connected = asyncio.Event()
        self.subscribed = asyncio.Event()
        self._session = "AQoQILE98gtqShGmLD7AM6yJThAB"
        self._ids = itertools.count(1)

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

    # -- id.twitch.tv ----------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("client_id") != CLIENT_ID or q.get("client_secret") != CLIENT_SECRET:
            return _json({"status": 403, "message": "invalid client secret"}, 403)
        if q.get("grant_type") == "client_credentials":
            token = f"app-token-{next(self._ids)}"
            self.app_tokens.add(token)
            return _json({"access_token": token, "expires_in": 5011271, "token_type": "bearer"})
        if q.get("grant_type") == "refresh_token":
            if q.get("refresh_token") != BOT_REFRESH or self.refresh_fails:
                return _json({"status": 400, "message": "Invalid refresh token"}, 400)
            self.refreshed += 1
            token = f"bot-user-token-refreshed-{self.refreshed}"
            self.user_tokens.add(token)
            return _json(
                {
                    "access_token": token,
                    "refresh_token": BOT_REFRESH,
                    "scope": ["user:bot", "user:read:chat", "user:write:chat"],
                    "token_type": "bearer",
                    "expires_in": 14124,
                }
            )
        return _json({"status": 400, "message": "unsupported grant type"}, 400)

    async def _validate(self, request: web.Request) -> web.Response:
        # Twitch documents "OAuth <token>" and accepts "Bearer <token>" (twitchio's).
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("OAuth ").removeprefix("Bearer ")
        if token in self.app_tokens:
            return _json({"client_id": CLIENT_ID, "scopes": [], "expires_in": 5520838})
        if token in self.user_tokens:
            return _json(
                {
                    "client_id": CLIENT_ID,
                    "login": BOT_LOGIN,
                    "scopes": ["user:bot", "user:read:chat", "user:write:chat"],
                    "user_id": BOT_ID,
                    "expires_in": 5520838,
                }
            )
        return _json({"status": 401, "message": "invalid access token"}, 401)

    # -- Helix -----------------------------------------------------------------------

    def _bearer(self, request: web.Request) -> str | None:
        if request.headers.get("Client-Id") != CLIENT_ID:
            return None
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        return token if token in self.user_tokens | self.app_tokens else None

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
        self._ws = ws
        self.connections += 1
        if "reconnect" not in request.query:  # a reconnect keeps its session (Twitch's)
            self._session = f"session-{uuid.uuid4().hex[:16]}"
        welcome = fixture("session_welcome")
        welcome["payload"]["session"]["id"] = self._session
        await ws.send_json(welcome)
        self.connected.set()
        keepalive = asyncio.create_task(self._keepalive(ws))
        try:
            async for _ in ws:  # the client sends nothing over EventSub
                pass
        finally:
            keepalive.cancel()
        return ws

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
        assert self._ws is not None
        self.connected.clear()
        note = {
            "metadata": {"message_id": str(uuid.uuid4()), "message_type": "session_reconnect",
                         "message_timestamp": "2026-11-22T12:00:00.000000000Z"},
            "payload": {"session": {"id": self._session, "status": "reconnecting",
                                    "keepalive_timeout_seconds": None,
                                    "reconnect_url": self.eventsub + "?reconnect=1",
                                    "connected_at": "2026-11-22T12:00:00.000000000Z"}},
        }  # fmt: skip
        await self._ws.send_json(note)
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
        assert self._ws is not None, "no EventSub connection"
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
        note["payload"]["subscription"]["transport"]["session_id"] = self._session
        await self._ws.send_json(note)
        return mid


def channel_id(login: str) -> str:
    """The user id the fake gives a channel it does not otherwise know."""
    return str(3_000_000 + zlib.crc32(login.encode()) % 1_000_000)


def _fragment(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text, "cheermote": None, "emote": None, "mention": None}


def _json(data: Any, status: int = 200) -> web.Response:
    headers = {
        "Ratelimit-Limit": "800",
        "Ratelimit-Remaining": "799",
        "Ratelimit-Reset": str(int(time.time()) + 60),
    }
    return web.json_response(data, status=status, headers=headers)
