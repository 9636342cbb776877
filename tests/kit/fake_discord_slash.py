"""The slash-command half of the fake Discord: registering commands, a member's
INTERACTION_CREATE, and the interaction responses (a deferral, the original response and
its edits, follow-ups), recorded as ``Action``s like the channel messages."""

from __future__ import annotations

import itertools
import time
from typing import Any

from aiohttp import web

from .discord_shapes import EPHEMERAL, VIEWER_ID, Action, fixture
from .discord_shapes import json_response as _json


class SlashInteractions:
    """Mixed into FakeDiscord, whose state and helpers it uses."""

    actions: list[Action]
    commands: list[dict[str, Any]]
    _ids: itertools.count[int]
    _messages: dict[str, dict[str, Any]]
    _interactions: dict[str, dict[str, Any]]

    async def _dispatch(self, event: str, data: dict[str, Any]) -> None:
        raise NotImplementedError

    async def _payload(
        self, request: web.Request
    ) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
        raise NotImplementedError

    def _attachments(self, files: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _message(
        self, channel_id: str, content: str, attachments: list[dict[str, Any]]
    ) -> dict[str, Any]:
        raise NotImplementedError

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
