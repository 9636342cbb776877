"""Running the real LiteraiDiscord against the fake Discord (fake_discord.py): the
``fake`` fixture, starting and stopping the bot, and waiting until it has handled
everything the fake sent."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import discord
import pytest
import yarl
from discord.gateway import DiscordWebSocket

from bots.discord.client import LiteraiDiscord
from bots.discord.settings import DiscordSettings
from literai_core.chat import Reply
from literai_core.core import ChatCore
from literai_core.inference import Inference
from literai_core.router import Component
from literai_core.settings import AskSettings, BotSettings

from .clock import FakeClock
from .fake_discord import FakeDiscord
from .waiting import until

__all__ = ["BOT", "fake", "run_bot", "settled", "stop_bot", "until"]

# Tests send many commands from one member; the per-user rate has its own tests.
BOT = BotSettings(user_cooldown_s=0, channel_cooldown_s=0, max_reply_chars=4000, user_commands=1000)  # type: ignore[call-arg]  # fmt: skip
# Long answers, to test splitting and pacing: no cap on an answer's sentences.
LONG = BOT.model_copy(update={"ask": AskSettings(max_sentences=0)})


@pytest.fixture
async def fake(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[FakeDiscord]:
    """The fake Discord, with discord.py pointed at it. discord.py logs an event
    handler's exception and goes on: any error logged during the test fails it."""
    fake = FakeDiscord()
    await fake.start()
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway))
    yield fake
    await fake.stop()
    failed = [r.getMessage() for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not failed, failed


async def run_bot(
    fake: FakeDiscord,
    inference: Inference,
    *,
    bot: BotSettings = BOT,
    voice_cls: type[discord.VoiceClient] = discord.VoiceClient,
    components: list[Component] | None = None,
    clock: FakeClock | None = None,
    intents: discord.Intents | None = None,
    observers: list[Callable[[Reply], None]] | None = None,
    **settings: Any,
) -> tuple[LiteraiDiscord, asyncio.Task[None]]:
    """The bot logged in to the fake and ready. ``clock``: its time and its pacers'
    sleeps (default: the real ones)."""
    timing: dict[str, Any] = {} if clock is None else {"clock": clock, "sleep": clock.sleep}
    client = LiteraiDiscord(
        ChatCore(bot, inference, components, observers=observers or []),
        DiscordSettings(**settings),
        voice_cls=voice_cls,
        intents=intents,
        **timing,
    )
    # discord.py calls itself ready once no guild has arrived for this long (2 s by
    # default); the fake sends its one guild at once.
    client._connection.guild_ready_timeout = 0.2
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


def _handling() -> bool:
    """Whether discord.py is still running an event handler or a slash command (each
    runs as its own task, named by discord.py)."""
    return any(
        not task.done()
        and (
            task.get_name().startswith("discord.py: on_")
            or task.get_name() == "CommandTree-invoker"
        )
        for task in asyncio.all_tasks()
    )


async def settled(client: discord.Client, fake: FakeDiscord) -> None:
    """Wait until the bot has read every gateway event the fake sent and has finished
    handling each: what it was going to do about them is done."""
    await until(lambda: client.ws is not None and (client.ws.sequence or 0) >= fake.seq)
    await until(lambda: not _handling())
