"""A small fake of Discord's gateway and REST API on loopback, enough for the real
discord.py to log in, receive messages and send, edit and upload. Payloads follow the
shapes in Discord's API documentation (fixtures in tests/fixtures/discord/)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from .loopback import LoopbackFake

FIXTURES = Path(__file__).parent / "fixtures" / "discord"
GUILD_ID = "1100000000000000001"
CHANNEL_ID = "1100000000000000002"
VOICE_CHANNEL_ID = "1100000000000000003"
THREAD_ID = "1100000000000000004"  # a thread in CHANNEL_ID
BOT_ID = "1100000000000000009"
VIEWER_ID = "1100000000000000100"  # sits in VOICE_CHANNEL_ID (guild_create voice_states)
EPHEMERAL = 1 << 6


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py checks the content type exactly.
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json"},
    )


@dataclass
class Action:
    """One REST call the bot made: a send or an edit."""

    # "send", "edit", "react" (content: the emoji; message_id: the one reacted to), or
    # "respond" (an interaction's initial response: "defer" or its content).
    kind: str
    channel_id: str
    message_id: str
    content: str
    at: float
    files: list[tuple[str, bytes]] = field(default_factory=list)
    reference: str | None = None
    flags: int = 0


class FakeDiscord(LoopbackFake):
    def __init__(self) -> None:
        super().__init__()
        self.actions: list[Action] = []
        self.identified = asyncio.Event()
        self._seq = itertools.count(2)
        self._ids = itertools.count(1200000000000000000)
        self._messages: dict[str, dict[str, Any]] = {}
        self.commands: list[dict[str, Any]] = []  # registered slash commands
        self.gateway_ops: list[dict[str, Any]] = []  # what the bot sent besides heartbeats
        self.connections = 0
        self.resumed: list[str] = []  # session ids the bot resumed
        self._interactions: dict[str, dict[str, Any]] = {}  # token -> interaction

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
        await self._ws.send_json({"op": 0, "t": event, "s": next(self._seq), "d": data})

    async def user_says(
        self,
        content: str,
        *,
        user_id: str = "1100000000000000100",
        name: str = "viewer",
        bot: bool = False,
        roles: list[str] | None = None,
        channel_id: str = CHANNEL_ID,
        dm: bool = False,
    ) -> str:
        """A MESSAGE_CREATE from a member in the test channel (or another channel, or a
        DM); returns its id."""
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
        self.actions.append(
            Action("send", cid, message["id"], message["content"], time.monotonic(), files, ref)
        )
        return _json(message)

    async def _react(self, request: web.Request) -> web.Response:
        cid, mid = request.match_info["cid"], request.match_info["mid"]
        emoji = request.match_info["emoji"]  # aiohttp has already unquoted it
        self.actions.append(Action("react", cid, mid, emoji, time.monotonic()))
        return web.Response(status=204)

    async def _edit(self, request: web.Request) -> web.Response:
        cid, mid = request.match_info["cid"], request.match_info["mid"]
        payload = await request.json()
        message = self._messages[mid]
        message["content"] = payload.get("content", message["content"])
        self.actions.append(Action("edit", cid, mid, message["content"], time.monotonic()))
        return _json(message)

    async def user_slash(
        self,
        name: str,
        options: dict[str, str] | None = None,
        *,
        user_id: str = VIEWER_ID,
        user_name: str = "viewer",
        roles: list[str] | None = None,
    ) -> str:
        """An INTERACTION_CREATE for the slash command ``name``; returns its token."""
        interaction = fixture("interaction_create")
        interaction["id"] = str(next(self._ids))
        interaction["token"] = f"token-{interaction['id']}"
        registered = {c["name"]: c["id"] for c in self.commands}
        interaction["data"].update(
            id=registered.get(name, "0"),
            name=name,
            options=[{"name": k, "type": 3, "value": v} for k, v in (options or {}).items()],
        )
        member = interaction["member"]
        member["user"].update(id=user_id, username=user_name, global_name=user_name)
        member["roles"] = roles or []
        self._interactions[interaction["token"]] = interaction
        await self._dispatch("INTERACTION_CREATE", interaction)
        return interaction["token"]

    async def _payload(
        self, request: web.Request
    ) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
        """A JSON body, or multipart with ``payload_json`` and files."""
        files: list[tuple[str, bytes]] = []
        if not request.content_type.startswith("multipart/"):
            return await request.json(), files
        payload: dict[str, Any] = {}
        async for part in await request.multipart():
            if part.name == "payload_json":  # type: ignore[union-attr]
                payload = json.loads(await part.text())  # type: ignore[union-attr]
            else:
                files.append((part.filename or "", await part.read()))  # type: ignore[union-attr]
        return payload, files

    async def _register(self, request: web.Request) -> web.Response:
        commands = await request.json()
        app = request.match_info["app"]
        self.commands = [
            c | {"id": str(next(self._ids)), "application_id": app, "version": "1"}
            for c in commands
        ]
        return _json(self.commands)

    def _hook_message(self, token: str, content: str, files: list[tuple[str, bytes]]) -> Any:
        cid = self._interactions[token]["channel_id"]
        message = self._message(cid, content, self._attachments(files))
        message["interaction_token"] = token
        self._messages[message["id"]] = message
        return message

    async def _callback(self, request: web.Request) -> web.Response:
        token, iid = request.match_info["token"], request.match_info["iid"]
        payload, files = await self._payload(request)
        kind, data = payload["type"], payload.get("data") or {}
        message = self._hook_message(token, data.get("content") or "", files)
        self._messages[f"original:{token}"] = message
        flags = int(data.get("flags") or 0)
        self.actions.append(
            Action(
                "respond",
                message["channel_id"],
                message["id"],
                "defer" if kind == 5 else message["content"],
                time.monotonic(),
                files,
                flags=flags,
            )
        )
        return _json(
            {
                "interaction": {
                    "id": iid,
                    "type": 2,
                    "response_message_id": message["id"],
                    "response_message_loading": kind == 5,
                    "response_message_ephemeral": bool(flags & EPHEMERAL),
                },
                "resource": {"type": kind, "message": message},
            }
        )

    async def _followup(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        payload, files = await self._payload(request)
        message = self._hook_message(token, payload.get("content") or "", files)
        self.actions.append(
            Action(
                "send",
                message["channel_id"],
                message["id"],
                message["content"],
                time.monotonic(),
                files,
                flags=int(payload.get("flags") or 0),
            )
        )
        return _json(message)

    async def _edit_hook(self, request: web.Request) -> web.Response:
        token, mid = request.match_info["token"], request.match_info["mid"]
        payload, files = await self._payload(request)
        key = f"original:{token}" if mid == "@original" else mid
        message = self._messages[key]
        message["content"] = payload.get("content", message["content"])
        if files:
            message["attachments"] = self._attachments(files)
        self.actions.append(
            Action(
                "edit",
                message["channel_id"],
                message["id"],
                message["content"],
                time.monotonic(),
                files,
            )
        )
        return _json(message)

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
