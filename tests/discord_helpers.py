"""Running the real LiteraiDiscord against the fake Discord (tests/fake_discord.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
import yarl
from discord.gateway import DiscordWebSocket

from bots.discord.client import LiteraiDiscord
from bots.discord.settings import DiscordSettings
from literai_core.core import ChatCore
from literai_core.inference import Inference
from literai_core.router import Component
from literai_core.settings import BotSettings

from .fake_discord import FakeDiscord
from .waiting import until

__all__ = ["BOT", "fake", "run_bot", "stop_bot", "until"]

BOT = BotSettings(user_cooldown_s=0, channel_cooldown_s=0, max_reply_chars=4000)  # type: ignore[call-arg]


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway))
    yield fake
    await fake.stop()


async def run_bot(
    fake: FakeDiscord,
    inference: Inference,
    *,
    bot: BotSettings = BOT,
    voice_cls: type[discord.VoiceClient] = discord.VoiceClient,
    components: list[Component] | None = None,
    **settings: Any,
) -> tuple[LiteraiDiscord, asyncio.Task[None]]:
    client = LiteraiDiscord(
        ChatCore(bot, inference, components), DiscordSettings(**settings), voice_cls=voice_cls
    )
    task = asyncio.create_task(client.start("test-token"))
    ready = asyncio.ensure_future(client.ready_event.wait())
    await asyncio.wait({task, ready}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # login failed: raise it here
    assert ready.done(), "the bot never became ready"
    return client, task


async def stop_bot(client: LiteraiDiscord, task: asyncio.Task[None]) -> None:
    await client.close()
    await asyncio.wait_for(task, 10)
