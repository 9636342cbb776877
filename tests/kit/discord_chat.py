"""Members talking to the real LiteraiDiscord on the fake Discord, one message at a
time: ``Chat.say`` returns once the bot has done all it was going to do about it. The
bot's clock jumps over its pacers' waits, so pacing never holds a test up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from bots.discord.client import LiteraiDiscord
from literai_core.inference import Inference
from literai_core.settings import BotSettings

from .clock import FakeClock
from .discord_helpers import run_bot, settled, stop_bot
from .fake_discord import BOT_ID, FakeDiscord

# No cooldowns unless a test sets one; a small prompt limit to test against.
PERSONA = "You are testbot, terse and kind."
BOT: dict[str, Any] = {
    "persona": PERSONA,
    "user_cooldown_s": 0,
    "channel_cooldown_s": 0,
    "max_prompt_chars": 100,
}


@dataclass(frozen=True)
class Member:
    user_id: str
    name: str
    bot: bool = False


ALICE = Member("1100000000000000201", "alice")
BOB = Member("1100000000000000202", "bob")
CAROL = Member("1100000000000000203", "carol")
DAVE = Member("1100000000000000204", "dave")
OTHER_BOT = Member("1100000000000000205", "otherbot", bot=True)
MYSELF = Member(BOT_ID, "literai")  # the bot's own account (even without the bot flag)


class Chat:
    """The bot on the fake Discord and members talking to it: ``say`` returns once the
    bot has done all it was going to do about the message."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.clock = FakeClock(jump=True)
        self.running: tuple[LiteraiDiscord, asyncio.Task[None]] | None = None

    async def start(
        self, inference: Inference, bot: dict[str, Any] | None = None
    ) -> LiteraiDiscord:
        client, task = await run_bot(
            self.fake,
            inference,
            bot=BotSettings(**{**BOT, **(bot or {})}),
            clock=self.clock,
            slash_commands=False,
            voice={"enabled": False},
        )
        self.running = client, task
        return client

    async def say(self, who: Member, text: str, **where: Any) -> str:
        """``who`` says ``text`` (``roles=``, ``dm=``); the message's id."""
        assert self.running is not None
        said = await self.fake.user_says(
            text, user_id=who.user_id, name=who.name, bot=who.bot, **where
        )
        await settled(self.running[0], self.fake)
        return said

    def said(self) -> list[str]:
        """The texts of the messages posted since the last look."""
        return [p.text for p in self.fake.take()]

    async def stop(self) -> None:
        if self.running is not None:
            await stop_bot(*self.running)


@pytest.fixture
async def chat(fake: FakeDiscord) -> AsyncIterator[Chat]:
    running = Chat(fake)
    yield running
    await running.stop()
