"""Slash commands on the real discord.py client against the fake Discord: registered
with described options and Manage Server defaults, deferred then streamed into the
interaction's response, notices private to the member, files on the response."""

from __future__ import annotations

import openai
import pytest

from literai_core.inference import OpenAIInference
from literai_core.settings import BotSettings

from .kit.discord_helpers import LONG, run_bot, settled, stop_bot
from .kit.fake_discord import EPHEMERAL, MODS_ROLE_ID, FakeDiscord
from .kit.scripted import ScriptedInference, prose
from .kit.server import API_KEY, Server
from .kit.waiting import until


async def test_slash_commands_are_registered_with_described_options(fake: FakeDiscord) -> None:
    client, task = await run_bot(fake, ScriptedInference())
    await stop_bot(client, task)
    by_name = {c["name"]: c for c in fake.commands}
    assert {"ask", "gpt2", "help", "say", "imagine", "join", "leave", "clear"} <= set(by_name)
    (question,) = by_name["ask"]["options"]
    assert question == {
        "type": 3,
        "name": "question",
        "description": "Your question",
        "required": True,
    }
    assert by_name["say"]["options"][0]["required"] is False
    assert by_name["join"]["options"] == []
    assert int(by_name["clear"]["default_member_permissions"]) == 32  # Manage Server
    assert by_name["ask"]["default_member_permissions"] is None


async def test_slash_ask_defers_then_streams_into_the_response(fake: FakeDiscord) -> None:
    long = prose(50)  # ~2,400 characters: two messages
    client, task = await run_bot(fake, ScriptedInference([w + " " for w in long.split()]), bot=LONG)
    try:
        await fake.user_slash("ask", {"question": "what is a teletype?"})
        await until(lambda: sum(a.kind == "send" for a in fake.actions) == 1, 15)
        await settled(client, fake)  # the final edit too
    finally:
        await stop_bot(client, task)
    kinds = [a.kind for a in fake.actions]
    assert kinds[0] == "respond" and fake.actions[0].content == "defer"
    assert not fake.actions[0].flags & EPHEMERAL  # the answer is for everyone
    edits = [a for a in fake.actions if a.kind == "edit"]
    assert edits and all(e.message_id == fake.actions[0].message_id for e in edits)
    follow = next(a for a in fake.actions if a.kind == "send")
    final = edits[-1].content + "\n" + follow.content
    assert len(edits[-1].content) <= 2000 and not edits[-1].content.endswith("…")
    assert " ".join(final.split()) == " ".join(long.split())[: len(" ".join(final.split()))]
    assert fake.max_per_5s() <= 5


async def test_slash_notices_are_private_and_roles_are_checked(fake: FakeDiscord) -> None:
    bot = BotSettings(user_cooldown_s=60, channel_cooldown_s=0)  # type: ignore[call-arg]
    client, task = await run_bot(fake, ScriptedInference(["Sure."]), bot=bot)
    try:
        await fake.user_slash("help")
        await fake.user_slash("clear")
        await fake.user_slash("clear", roles=[MODS_ROLE_ID])  # Mods: Manage Server
        await fake.user_slash("ask", {"question": "one?"})
        await until(lambda: any(a.content == "Sure." for a in fake.actions))
        await fake.user_slash("ask", {"question": "two?"})  # on cooldown
        await until(lambda: sum(a.kind == "respond" for a in fake.actions) == 5)
    finally:
        await stop_bot(client, task)
    responses = [a for a in fake.actions if a.kind == "respond"]
    private = [a.content for a in responses if a.flags & EPHEMERAL]
    assert private[0].startswith("Commands: !ask")
    assert private[1] == "Only moderators can use !clear."
    assert private[2] == "Done: I've forgotten the recent chat here."
    assert private[3].startswith("@viewer slow down")
    assert [a.content for a in responses if not a.flags & EPHEMERAL] == ["defer"]


@pytest.mark.slow
async def test_slash_say_attaches_the_audio_to_the_response(
    fake: FakeDiscord, server: Server
) -> None:
    async with openai.AsyncOpenAI(base_url=server.v1, api_key=API_KEY, max_retries=0) as api:
        client, task = await run_bot(fake, OpenAIInference(api, "smollm2"))
        try:
            await fake.user_slash("say", {"text": "hello from a slash command"})
            await until(lambda: any(a.files for a in fake.actions))
        finally:
            await stop_bot(client, task)
    respond, edit = fake.actions
    assert respond.kind == "respond" and respond.content == "defer"
    assert edit.kind == "edit" and edit.content == "🔊 hello from a slash command"
    ((name, data),) = edit.files
    assert name == "speech.wav" and data[:4] == b"RIFF"
