"""Running the real LiteraiTwitch (twitchio 3) against the fake Twitch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import pytest
import twitchio
import twitchio.eventsub.websockets
import twitchio.http

from bots.twitch.client import LiteraiTwitch
from bots.twitch.settings import Credentials, TwitchSettings
from literai_core.core import ChatCore
from literai_core.inference import Inference
from literai_core.settings import BotSettings

from .clock import FakeClock
from .fake_twitch import BOT_REFRESH, BOT_TOKEN, CLIENT_ID, CLIENT_SECRET, FakeTwitch

BOT = BotSettings(user_cooldown_s=0, channel_cooldown_s=0)  # type: ignore[call-arg]
GOOD = Credentials(CLIENT_ID, CLIENT_SECRET, BOT_TOKEN, BOT_REFRESH)


F = TypeVar("F", bound=FakeTwitch)


async def pointed(fake: F, monkeypatch: pytest.MonkeyPatch) -> F:
    """``fake`` started, with twitchio pointed at it for this test."""
    await fake.start()
    monkeypatch.setattr(twitchio.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(twitchio.http.Route, "ID_BASE", fake.id_base)
    monkeypatch.setattr(twitchio.eventsub.websockets, "WSS", fake.eventsub)
    return fake


@pytest.fixture
async def twitch(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTwitch]:
    fake = await pointed(FakeTwitch(), monkeypatch)
    yield fake
    await fake.stop()


async def run_bot(
    fake: FakeTwitch,
    inference: Inference,
    *,
    bot: BotSettings = BOT,
    credentials: Credentials = GOOD,
    overlay: bool = False,
    clock: FakeClock | None = None,
    **settings: Any,
) -> tuple[LiteraiTwitch, asyncio.Task[None]]:
    timing: dict[str, Any] = {} if clock is None else {"clock": clock, "sleep": clock.sleep}
    client = LiteraiTwitch(
        ChatCore(bot, inference),
        TwitchSettings(channels=["streamer"], **settings),
        credentials,
        overlay=overlay,
        **timing,
    )
    task = asyncio.create_task(
        client.start(with_adapter=False, load_tokens=False, save_tokens=False)
    )
    subscribed = asyncio.ensure_future(fake.subscribed.wait())
    await asyncio.wait({task, subscribed}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task.done() and task.exception() is not None:
        await client.close()
        task.result()  # login failed: raise it here
    assert subscribed.done(), "the bot never subscribed to chat"
    return client, task


async def stop_bot(client: LiteraiTwitch, task: asyncio.Task[None]) -> None:
    await client.close()
    await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 10)
