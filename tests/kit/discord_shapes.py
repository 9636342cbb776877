"""The shapes the fake Discord (fake_discord.py) speaks and records: the ids of its one
guild, its channels and roles, payload fixtures from Discord's API documentation
(tests/kit/fixtures/discord/), and what the bot did, as ``Action`` and ``Posted``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

FIXTURES = Path(__file__).parent / "fixtures" / "discord"
GUILD_ID = "1100000000000000001"
CHANNEL_ID = "1100000000000000002"
VOICE_CHANNEL_ID = "1100000000000000003"
THREAD_ID = "1100000000000000004"  # a thread in CHANNEL_ID
BOT_ID = "1100000000000000009"
VIEWER_ID = "1100000000000000100"  # sits in VOICE_CHANNEL_ID (guild_create voice_states)
MODS_ROLE_ID = "1100000000000000050"  # "Mods": Manage Server
MUTED_ROLE_ID = "1100000000000000051"  # "Muted": no permissions
EPHEMERAL = 1 << 6
MANAGE_GUILD = 1 << 5  # "Manage Server", a permission bit
ADMINISTRATOR = 1 << 3


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def json_response(data: Any, status: int = 200) -> web.Response:
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
    alts: list[str | None] = field(default_factory=list)  # each file's description


@dataclass
class Posted:
    """A message the bot sent, as it reads once the bot is done editing it."""

    message_id: str
    channel_id: str
    text: str
    reference: str | None  # the message it replies to
    files: list[tuple[str, bytes]]
    alts: list[str | None]  # each file's description (its alt text)
