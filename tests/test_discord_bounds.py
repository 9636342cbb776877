"""The Discord adapter's per-channel state is bounded: idle pacers beyond the limit go,
least recently used first; a busy one is kept."""

from __future__ import annotations

import bots.discord.client as discord_client
from bots.discord.client import LiteraiDiscord
from bots.discord.settings import DiscordSettings
from bots.pacing import Pacer
from literai_core.core import ChatCore

from .kit.chat import bot_settings
from .kit.clock import FakeClock
from .kit.scripted import ScriptedInference


def test_a_pacer_is_idle_once_its_window_has_passed() -> None:
    clock = FakeClock()
    pacer = Pacer(5, 5.0, clock, clock.sleep)
    assert pacer.idle(clock())
    held = pacer.try_slot()
    assert held is not None and not pacer.idle(clock())
    clock.advance(5.1)
    assert pacer.idle(clock())


async def test_idle_pacers_beyond_the_limit_are_dropped(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(discord_client, "MAX_PACERS", 10)
    clock = FakeClock()
    client = LiteraiDiscord(
        ChatCore(bot_settings(), ScriptedInference()),
        DiscordSettings(voice={"enabled": False}, slash_commands=False),  # type: ignore[arg-type]
        clock=clock,
        sleep=clock.sleep,
    )
    busy = client.pacer(1)
    assert busy.try_slot() is not None  # channel 1 has just posted
    for channel in range(2, 40):
        client.pacer(channel)
    assert len(client._pacers) <= 10
    assert client.pacer(1) is busy  # kept: not idle
    assert 39 in client._pacers  # the newest stays
    await client.close()
