"""The real discord.py client against a local fake of Discord's gateway and REST: the
calls the bot really makes (sends, paced edits, splits, files) are what is asserted."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import discord
import openai
import pytest
import yarl
from discord.gateway import DiscordWebSocket

from bots.discord.client import LiteraiDiscord
from literai_core.config import BotSettings, DiscordSettings
from literai_core.core import ChatCore
from literai_core.inference import Inference, OpenAIInference

from .conftest import API_KEY, Server
from .fake_discord import CHANNEL_ID, Action, FakeDiscord
from .test_core import ScriptedInference

BOT = BotSettings(user_cooldown_s=0, channel_cooldown_s=0, max_reply_chars=4000)  # type: ignore[call-arg]


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway))
    yield fake
    await fake.stop()


async def _run_bot(
    fake: FakeDiscord, inference: Inference, **settings: Any
) -> tuple[LiteraiDiscord, asyncio.Task[None]]:
    client = LiteraiDiscord(ChatCore(BOT, inference), DiscordSettings(**settings))
    task = asyncio.create_task(client.start("test-token"))
    ready = asyncio.ensure_future(client.ready_event.wait())
    await asyncio.wait({task, ready}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # login failed: raise it here
    assert ready.done(), "the bot never became ready"
    return client, task


async def _stop(client: LiteraiDiscord, task: asyncio.Task[None]) -> None:
    await client.close()
    await asyncio.wait_for(task, 10)


async def _until(check: Callable[[], bool], limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        assert time.monotonic() < deadline, "the bot did not act in time"
        await asyncio.sleep(0.05)


def _max_per_5s(actions: list[Action]) -> int:
    times = sorted(a.at for a in actions)
    return max((sum(1 for t in times if s <= t < s + 5) for s in times), default=0)


async def test_ask_is_answered_by_the_real_model_in_a_reply(
    fake: FakeDiscord, server: Server
) -> None:
    async with openai.AsyncOpenAI(base_url=server.v1, api_key=API_KEY, max_retries=0) as api:
        client, task = await _run_bot(fake, OpenAIInference(api, "smollm2"))
        try:
            asked = await fake.user_says("!ask what is a teletype?")
            await _until(
                lambda: any(a.content and not a.content.endswith("…") for a in fake.actions)
            )
        finally:
            await _stop(client, task)
    first = fake.actions[0]
    assert first.kind == "send" and first.channel_id == CHANNEL_ID
    assert first.reference == asked  # threads to the asking message
    final = fake.actions[-1].content
    assert len(final.split()) >= 3 and not final.startswith("Sorry")


async def test_long_streamed_answers_are_paced_and_split(fake: FakeDiscord) -> None:
    sentence = "The teletype clattered on through the night, line after line. "
    pieces = [sentence] * 70  # ~4,400 characters, streamed slowly

    class Slow(ScriptedInference):
        async def stream_chat(
            self, messages: Any, gen: Any, *, user: Any = None
        ) -> AsyncIterator[str]:
            for piece in pieces:
                await asyncio.sleep(0.05)
                yield piece

    client, task = await _run_bot(fake, Slow(), edit_interval_s=0.5)
    try:
        await fake.user_says("!ask tell me a long story")
        await _until(lambda: sum(a.kind == "send" for a in fake.actions) >= 2, 90)
        await asyncio.sleep(0.5)
    finally:
        await _stop(client, task)
    sends = [a for a in fake.actions if a.kind == "send"]
    edits = [a for a in fake.actions if a.kind == "edit"]
    # max_reply_chars 4000: two messages, the first grown by paced edits.
    assert len(sends) == 2 and edits, [a.kind for a in fake.actions]
    assert all(len(a.content) <= 2000 for a in fake.actions)
    final_parts = [fake.actions[-1 - i].content for i in range(2)][::-1]
    assert all(not p.endswith("…") and p.endswith(".") for p in final_parts)
    gaps = [b.at - a.at for a, b in itertools.pairwise(edits)]
    assert all(g >= 0.45 for g in gaps[:-1]), gaps  # the last edit is the final one
    assert _max_per_5s(fake.actions) <= 5


async def test_bots_blocked_users_and_unknown_users_roles(fake: FakeDiscord) -> None:
    client, task = await _run_bot(
        fake,
        ScriptedInference(),
        block_users=["1100000000000000666"],
        block_roles=["Muted"],
    )
    try:
        await fake.user_says("!help", bot=True, name="otherbot")
        await fake.user_says("!help", user_id="1100000000000000666", name="troll")
        await fake.user_says("!help", roles=["1100000000000000051"], name="muted")
        await fake.user_says("!help", name="fan")
        await _until(lambda: len(fake.actions) >= 1)
        await asyncio.sleep(0.5)
    finally:
        await _stop(client, task)
    assert [a.content for a in fake.actions] == [
        "Commands: !ask !gpt2 !help !imagine !say. !help <command> for details."
    ]


async def test_speech_arrives_as_an_attachment(fake: FakeDiscord, server: Server) -> None:
    async with openai.AsyncOpenAI(base_url=server.v1, api_key=API_KEY, max_retries=0) as api:
        client, task = await _run_bot(fake, OpenAIInference(api, "smollm2"))
        try:
            await fake.user_says("!say hello discord")
            await _until(lambda: bool(fake.actions))
        finally:
            await _stop(client, task)
    (action,) = fake.actions
    assert action.content == "🔊 hello discord"
    ((name, data),) = action.files
    assert name == "speech.wav" and data[:4] == b"RIFF" and len(data) > 22050


async def test_a_down_model_server_gets_a_polite_reply(fake: FakeDiscord) -> None:
    async with openai.AsyncOpenAI(
        base_url="http://127.0.0.1:9/v1", api_key="x", max_retries=0
    ) as api:
        client, task = await _run_bot(fake, OpenAIInference(api, "smollm2"))
        try:
            await fake.user_says("!ask anyone home?")
            await _until(lambda: any("Sorry" in a.content for a in fake.actions))
        finally:
            await _stop(client, task)
    assert "the model server is unreachable" in fake.actions[-1].content


async def test_a_wrong_token_fails_login(fake: FakeDiscord) -> None:
    client = LiteraiDiscord(ChatCore(BOT, ScriptedInference()), DiscordSettings())
    with pytest.raises(discord.LoginFailure):
        await client.start("wrong-token")
    await client.close()


async def test_manage_server_members_are_moderators(fake: FakeDiscord) -> None:
    client, task = await _run_bot(fake, ScriptedInference())
    try:
        await fake.user_says("!clear", name="viewer")
        await fake.user_says("!clear", name="mod", roles=["1100000000000000050"])  # Mods
        await _until(lambda: len(fake.actions) >= 2)
    finally:
        await _stop(client, task)
    assert sorted(a.content for a in fake.actions) == [
        "Done: I've forgotten the recent chat here.",
        "Only moderators can use !clear.",
    ]


async def test_a_refused_command_gets_a_reaction_not_a_message(fake: FakeDiscord) -> None:
    client = LiteraiDiscord(
        ChatCore(BotSettings(user_cooldown_s=60), ScriptedInference(["Sure."])),  # type: ignore[call-arg]
        DiscordSettings(),
    )
    task = asyncio.create_task(client.start("test-token"))
    await asyncio.wait_for(client.ready_event.wait(), 30)
    try:
        await fake.user_says("!ask one?")
        await _until(lambda: any(a.content == "Sure." for a in fake.actions))
        second = await fake.user_says("!ask two?")
        await _until(lambda: any(a.kind == "react" for a in fake.actions))
    finally:
        await _stop(client, task)
    react = next(a for a in fake.actions if a.kind == "react")
    assert react.message_id == second and react.content == "⏳"
    assert sum(a.kind == "send" for a in fake.actions) == 1
