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

FIXTURES = Path(__file__).parent / "fixtures" / "discord"
GUILD_ID = "1100000000000000001"
CHANNEL_ID = "1100000000000000002"
BOT_ID = "1100000000000000009"


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

    kind: str  # "send", "edit" or "react" (content: the emoji; message_id: the one reacted to)
    channel_id: str
    message_id: str
    content: str
    at: float
    files: list[tuple[str, bytes]] = field(default_factory=list)
    reference: str | None = None


class FakeDiscord:
    def __init__(self) -> None:
        self.actions: list[Action] = []
        self.identified = asyncio.Event()
        self._ws: web.WebSocketResponse | None = None
        self._seq = itertools.count(2)
        self._ids = itertools.count(1200000000000000000)
        self._messages: dict[str, dict[str, Any]] = {}
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/api/v10/users/@me", self._me)
        app.router.add_get("/api/v10/oauth2/applications/@me", self._application)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_post("/api/v10/channels/{cid}/messages", self._send)
        app.router.add_patch("/api/v10/channels/{cid}/messages/{mid}", self._edit)
        app.router.add_put(
            "/api/v10/channels/{cid}/messages/{mid}/reactions/{emoji}/@me", self._react
        )
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self.runner is not None:
            await self.runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # -- gateway -------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        async for msg in ws:
            data = json.loads(msg.data)
            if data["op"] == 1:  # heartbeat
                await ws.send_json({"op": 11, "d": None, "s": None, "t": None})
            elif data["op"] == 2:  # identify
                await self._dispatch("READY", fixture("ready"))
                await self._dispatch("GUILD_CREATE", fixture("guild_create"))
                self.identified.set()
        return ws

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
    ) -> str:
        """A MESSAGE_CREATE from a member in the test channel; returns its id."""
        message = fixture("message_create")
        message["id"] = str(next(self._ids))
        message["content"] = content
        message["author"].update(id=user_id, username=name, global_name=name, bot=bot)
        message["member"]["roles"] = roles or []
        await self._dispatch("MESSAGE_CREATE", message)
        return message["id"]  # type: ignore[no-any-return]

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
        files: list[tuple[str, bytes]] = []
        if request.content_type.startswith("multipart/"):
            payload: dict[str, Any] = {}
            async for part in await request.multipart():  # type: ignore[union-attr]
                if part.name == "payload_json":  # type: ignore[union-attr]
                    payload = json.loads(await part.text())  # type: ignore[union-attr]
                else:
                    files.append((part.filename or "", await part.read()))  # type: ignore[union-attr]
        else:
            payload = await request.json()
        attachments = [
            {
                "id": str(next(self._ids)),
                "filename": name,
                "size": len(data),
                "url": f"http://127.0.0.1/{name}",
                "proxy_url": f"http://127.0.0.1/{name}",
            }
            for name, data in files
        ]
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
