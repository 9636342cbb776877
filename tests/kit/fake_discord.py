"""A small fake of Discord's gateway and REST API on loopback, enough for the real
discord.py to log in, receive messages and send, edit and upload. Payloads follow the
shapes in Discord's API documentation (fixtures in tests/kit/fixtures/discord/). Tests
play the people: members with roles (and a role's permissions), other bots, DMs, slash
commands; what the bot did comes back as ``actions`` (every REST call) and ``posted()``
(each message as it finally reads)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

from aiohttp import web

from .discord_shapes import (
    ADMINISTRATOR,
    BOT_ID,
    CHANNEL_ID,
    EPHEMERAL,
    GUILD_ID,
    MANAGE_GUILD,
    MODS_ROLE_ID,
    MUTED_ROLE_ID,
    THREAD_ID,
    VIEWER_ID,
    VOICE_CHANNEL_ID,
    Action,
    Posted,
    fixture,
)
from .discord_shapes import json_response as _json
from .fake_discord_slash import SlashInteractions
from .loopback import LoopbackFake

__all__ = [
    "ADMINISTRATOR",
    "BOT_ID",
    "CHANNEL_ID",
    "EPHEMERAL",
    "GUILD_ID",
    "MANAGE_GUILD",
    "MODS_ROLE_ID",
    "MUTED_ROLE_ID",
    "THREAD_ID",
    "VIEWER_ID",
    "VOICE_CHANNEL_ID",
    "Action",
    "FakeDiscord",
    "Posted",
    "fixture",
]


class FakeDiscord(SlashInteractions, LoopbackFake):
    def __init__(self) -> None:
        super().__init__()
        self.actions: list[Action] = []
        # Every body the bot sent that posts or edits text, as (method, path, body).
        self.bodies: list[tuple[str, str, dict[str, Any]]] = []
        self.identified = asyncio.Event()
        self._seq = itertools.count(2)
        self._ids = itertools.count(1200000000000000000)
        self._messages: dict[str, dict[str, Any]] = {}
        self.commands: list[dict[str, Any]] = []  # registered slash commands
        self.gateway_ops: list[dict[str, Any]] = []  # what the bot sent besides heartbeats
        self.connections = 0
        self.resumed: list[str] = []  # session ids the bot resumed
        self._interactions: dict[str, dict[str, Any]] = {}  # token -> interaction
        self.seq = 0  # the last gateway event's sequence number
        self._dms: dict[str, str] = {}  # user id -> their DM channel's id
        self._taken = 0  # sends already handed out by take()

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v10/users/@me", self._me)
        app.router.add_get("/api/v10/oauth2/applications/@me", self._application)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_post("/api/v10/channels/{cid}/messages", self._send)
        app.router.add_patch("/api/v10/channels/{cid}/messages/{mid}", self._edit)
        app.router.add_put(
            "/api/v10/channels/{cid}/messages/{mid}/reactions/{emoji}/@me", self._react
        )
        app.router.add_put("/api/v10/applications/{app}/commands", self._register)
        app.router.add_post("/api/v10/interactions/{iid}/{token}/callback", self._callback)
        app.router.add_post("/api/v10/webhooks/{app}/{token}", self._followup)
        app.router.add_patch("/api/v10/webhooks/{app}/{token}/messages/{mid}", self._edit_hook)

    @property
    def api_base(self) -> str:
        return self.url("/api/v10")

    @property
    def gateway(self) -> str:
        return self.url("/gateway", "ws")

    # -- gateway -------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        self.connections += 1
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        async for msg in ws:
            data = json.loads(msg.data)
            if data["op"] == 1:  # heartbeat
                await ws.send_json({"op": 11, "d": None, "s": None, "t": None})
            elif data["op"] == 2:  # identify
                ready = fixture("ready")
                ready["resume_gateway_url"] = self.gateway  # come back here, not to Discord
                await self._dispatch("READY", ready)
                await self._dispatch("GUILD_CREATE", fixture("guild_create"))
                self.identified.set()
            elif data["op"] == 6:  # resume after a dropped connection
                self.resumed.append(data["d"]["session_id"])
                await self._dispatch("RESUMED", {})
                self.identified.set()
            else:
                self.gateway_ops.append(data)
        return ws

    async def drop_connection(self) -> None:
        """Close the gateway connection the way a network blip or a Discord restart
        does (code 4000, "unknown error: reconnect"); the bot should resume."""
        assert self._ws is not None
        self.identified.clear()
        await self._ws.close(code=4000, message=b"unknown error")

    async def _dispatch(self, event: str, data: dict[str, Any]) -> None:
        assert self._ws is not None
        self.seq = next(self._seq)
        await self._ws.send_json({"op": 0, "t": event, "s": self.seq, "d": data})

    async def add_role(self, name: str, permissions: int = 0) -> str:
        """A new role in the guild (GUILD_ROLE_CREATE); its id, for ``roles=``."""
        role = fixture("guild_create")["roles"][0] | {
            "id": str(next(self._ids)),
            "name": name,
            "permissions": str(permissions),
            "position": 3,
        }
        await self._dispatch("GUILD_ROLE_CREATE", {"guild_id": GUILD_ID, "role": role})
        return str(role["id"])

    def dm_channel(self, user_id: str) -> str:
        """The id of the DM channel between the bot and ``user_id``."""
        return self._dms.setdefault(user_id, str(next(self._ids)))

    async def user_says(
        self,
        content: str,
        *,
        user_id: str = "1100000000000000100",
        name: str = "viewer",
        bot: bool = False,
        roles: list[str] | None = None,
        channel_id: str | None = None,
        dm: bool = False,
    ) -> str:
        """A MESSAGE_CREATE from a member in the test channel (or another channel, or
        their DM with the bot); returns its id."""
        if channel_id is None:
            channel_id = self.dm_channel(user_id) if dm else CHANNEL_ID
        message = fixture("message_create")
        message["id"] = str(next(self._ids))
        message["content"] = content
        message["channel_id"] = channel_id
        message["author"].update(id=user_id, username=name, global_name=name, bot=bot)
        message["member"]["roles"] = roles or []
        if dm:  # a DM carries neither guild nor member
            del message["guild_id"], message["member"]
        await self._dispatch("MESSAGE_CREATE", message)
        return message["id"]

    # -- REST ----------------------------------------------------------------------------

    async def _me(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bot test-token":
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        return _json(fixture("ready")["user"])

    async def _application(self, request: web.Request) -> web.Response:
        return _json(fixture("application"))

    def _message(
        self, channel_id: str, content: str, attachments: list[dict[str, Any]]
    ) -> dict[str, Any]:
        message = fixture("message_create")
        message.update(
            id=str(next(self._ids)),
            channel_id=channel_id,
            content=content,
            attachments=attachments,
            author=fixture("ready")["user"],
        )
        message.pop("member", None)
        return message

    async def _send(self, request: web.Request) -> web.Response:
        cid = request.match_info["cid"]
        payload, files = await self._payload(request)
        attachments = self._attachments(files)
        message = self._message(cid, payload.get("content") or "", attachments)
        self._messages[message["id"]] = message
        ref = (payload.get("message_reference") or {}).get("message_id")
        ref = None if ref is None else str(ref)  # discord.py sends the id as a number
        alts = [a.get("description") for a in payload.get("attachments") or []]
        self.actions.append(
            Action(
                "send", cid, message["id"], message["content"], time.monotonic(), files, ref,
                alts=alts,
            )
        )  # fmt: skip
        return _json(message)

    def posted(self) -> list[Posted]:
        """Every message the bot sent, in order, each with its final text."""
        return [
            Posted(a.message_id, a.channel_id, self._messages[a.message_id]["content"],
                   a.reference, a.files, a.alts)
            for a in self.actions
            if a.kind == "send"
        ]  # fmt: skip

    def take(self) -> list[Posted]:
        """The messages sent since the last ``take``."""
        posted = self.posted()
        taken, self._taken = posted[self._taken :], len(posted)
        return taken

    def forget(self, actions: int, keep_messages: int = 5000) -> None:
        """Drop the first ``actions`` records and all but the newest ``keep_messages``
        messages: a long soak reads the records as they come, and the fake's own memory
        must not count as the bot's."""
        del self.actions[:actions]
        self.bodies.clear()
        self._taken = 0
        for mid in list(self._messages)[: max(0, len(self._messages) - keep_messages)]:
            del self._messages[mid]

    def max_per_5s(self, kinds: tuple[str, ...] | None = None) -> int:
        """The most actions (of ``kinds``, default all) in any 5 s: Discord's window."""
        times = sorted(a.at for a in self.actions if kinds is None or a.kind in kinds)
        return max((sum(1 for t in times if s <= t < s + 5) for s in times), default=0)

    def reactions(self, message_id: str) -> list[str]:
        """The emoji the bot put on a message."""
        return [a.content for a in self.actions if a.kind == "react" and a.message_id == message_id]

    async def _react(self, request: web.Request) -> web.Response:
        cid, mid = request.match_info["cid"], request.match_info["mid"]
        emoji = request.match_info["emoji"]  # aiohttp has already unquoted it
        self.actions.append(Action("react", cid, mid, emoji, time.monotonic()))
        return web.Response(status=204)

    async def _edit(self, request: web.Request) -> web.Response:
        cid, mid = request.match_info["cid"], request.match_info["mid"]
        payload = await request.json()
        self.bodies.append((request.method, request.path, payload))
        message = self._messages[mid]
        message["content"] = payload.get("content", message["content"])
        self.actions.append(Action("edit", cid, mid, message["content"], time.monotonic()))
        return _json(message)

    async def _payload(
        self, request: web.Request
    ) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
        """A JSON body, or multipart with ``payload_json`` and files."""
        files: list[tuple[str, bytes]] = []
        payload: dict[str, Any] = {}
        if not request.content_type.startswith("multipart/"):
            payload = await request.json()
        else:
            async for part in await request.multipart():
                if part.name == "payload_json":  # type: ignore[union-attr]
                    payload = json.loads(await part.text())  # type: ignore[union-attr]
                else:
                    files.append((part.filename or "", await part.read()))  # type: ignore[union-attr]
        self.bodies.append((request.method, request.path, payload))
        return payload, files

    def _attachments(self, files: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
        return [
            {
                "id": str(next(self._ids)),
                "filename": name,
                "size": len(data),
                "url": f"http://127.0.0.1/{name}",
                "proxy_url": f"http://127.0.0.1/{name}",
            }
            for name, data in files
        ]
