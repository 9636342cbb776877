"""Discord command logic with dpytest (discord.py's own test harness: real discord.py
objects and state, a simulated backend instead of Discord). The connect/send path itself
is tested against the fake gateway in test_discord.py; here it is what each command
does for whom. dpytest 0.7.0 cannot drive slash commands or voice, drops message
references and a file message's text, and its reaction event lacks the "type" field
discord.py 2.7 reads; those are tested against the fake gateway in test_discord.py and
test_discord_voice.py."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import discord.ext.test as dpytest
import openai
import pytest

from bots.discord.client import LiteraiDiscord
from literai_core.config import BotSettings, DiscordSettings
from literai_core.core import ChatCore
from literai_core.inference import Inference, OpenAIInference

from .conftest import API_KEY, Server
from .test_core import ScriptedInference

QUICK = {"user_cooldown_s": 0, "channel_cooldown_s": 0, "max_prompt_chars": 100}


async def _bot(inference: Inference, bot: dict[str, Any] | None = None, **discord_settings: Any):
    settings = DiscordSettings(slash_commands=False, voice={"enabled": False}, **discord_settings)
    # dpytest keeps its members in discord.py's member cache, which needs the members
    # intent; the bot itself does without it (roles come with each message).
    intents = discord.Intents.default()
    intents.message_content = intents.members = True
    core = ChatCore(BotSettings(**{**QUICK, **(bot or {})}), inference)
    client = LiteraiDiscord(core, settings, intents=intents)
    await client._async_setup_hook()  # dpytest needs the client's loop set up
    dpytest.configure(client, members=["alice", "bob"])
    return client


@pytest.fixture
async def cleanup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    monkeypatch.chdir(tmp_path)  # dpytest writes uploaded files to the working folder
    yield
    await dpytest.empty_queue()


def said() -> list[str]:
    out = []
    while not dpytest.sent_queue.empty():
        out.append(dpytest.get_message().content)
    return out


async def test_ask_is_answered_in_reply_to_the_question(cleanup: None) -> None:
    inference = ScriptedInference(["A machine ", "that types."])
    await _bot(inference)
    asked = await dpytest.message("!ask what is a teletype?")
    reply = dpytest.get_message()
    assert reply.content == "A machine that types."
    # (dpytest drops message references; the reply-to is checked in test_discord.py.)
    assert asked.content == "!ask what is a teletype?"
    messages = inference.calls[0].messages or []
    assert messages[-1]["content"].endswith("what is a teletype?")


async def test_help_unknown_usage_and_too_long(cleanup: None) -> None:
    inference = ScriptedInference()
    await _bot(inference)
    await dpytest.message("!help")
    await dpytest.message("!frobnicate")
    await dpytest.message("!ask")
    await dpytest.message("!ask " + "x" * 150)
    help_, unknown, usage, long = said()
    assert help_.startswith("Commands: !ask !gpt2 !help !imagine")
    assert unknown == "Unknown command !frobnicate. Try !help."
    assert usage == "Usage: !ask <question>"
    assert long == "That's too long for me (150 characters; the limit is 100)."
    assert inference.calls == []  # none of these reached the model


async def test_a_user_on_cooldown_is_not_answered_twice(cleanup: None) -> None:
    inference = ScriptedInference(["Sure."])
    await _bot(inference, {"user_cooldown_s": 60})
    await dpytest.message("!ask one?")
    await dpytest.message("!ask two?")  # refused: a ⏳ reaction (see the module note)
    assert said() == ["Sure."]
    assert len(inference.calls) == 1


async def test_blocked_users_and_roles_and_bots_are_ignored(cleanup: None) -> None:
    inference = ScriptedInference()
    client = await _bot(inference)
    guild = client.guilds[0]
    alice, bob = guild.get_member_named("alice"), guild.get_member_named("bob")
    assert alice is not None and bob is not None
    muted = dpytest.backend.make_role("Muted", guild)
    await dpytest.add_role(bob, muted)
    client.settings = DiscordSettings(
        slash_commands=False, voice={"enabled": False}, block_users=[str(alice.id)],
        block_roles=["Muted"],
    )  # fmt: skip
    await dpytest.message("!help", member=alice)
    await dpytest.message("!help", member=bob)
    assert said() == []
    client.settings = DiscordSettings(slash_commands=False, voice={"enabled": False})
    await dpytest.message("!help", member=bob)  # unblocked: answered
    assert len(said()) == 1


async def test_moderator_commands_need_manage_server(cleanup: None) -> None:
    client = await _bot(ScriptedInference())
    guild = client.guilds[0]
    alice, bob = guild.get_member_named("alice"), guild.get_member_named("bob")
    assert alice is not None and bob is not None
    mods = dpytest.backend.make_role(
        "Mods", guild, permissions=discord.Permissions(manage_guild=True).value
    )
    await dpytest.add_role(bob, mods)
    await dpytest.message("!persona Be a pirate.", member=alice)
    await dpytest.message("!persona Be a pirate.", member=bob)
    await dpytest.message("!persona", member=alice)  # showing needs moderator too
    assert said() == [
        "Only moderators can use !persona.",
        "Persona updated for this channel.",
        "Only moderators can use !persona.",
    ]


async def test_say_and_imagine_attach_files(cleanup: None) -> None:
    await _bot(ScriptedInference(["RIFF-bytes"], ["PNG-bytes"]))
    await dpytest.message("!say hello there")
    speech = dpytest.get_message()
    await dpytest.message("!imagine a red teletype")
    image = dpytest.get_message()
    # (dpytest keeps a file message's attachments but not its text; the captions are
    # checked against the fake gateway in test_discord.py.)
    assert [a.filename for a in speech.attachments] == ["speech.wav"]
    assert [a.filename for a in image.attachments] == ["image.png"]


async def test_direct_messages_have_a_window_per_user(cleanup: None) -> None:
    inference = ScriptedInference(["Hi Bob."])
    client = await _bot(inference)
    guild = client.guilds[0]
    alice, bob = guild.get_member_named("alice"), guild.get_member_named("bob")
    assert alice is not None and bob is not None
    alice_dm = await alice.create_dm()
    bob_dm = await bob.create_dm()
    await dpytest.message("my secret is 1234", channel=alice_dm, member=alice)
    await dpytest.message("!ask hello?", channel=bob_dm, member=bob)
    assert said() == ["Hi Bob."]
    messages = inference.calls[0].messages or []
    assert not any("1234" in m["content"] for m in messages)


async def test_the_real_model_answers_and_a_down_server_gets_a_polite_line(
    cleanup: None, server: Server
) -> None:
    async with openai.AsyncOpenAI(base_url=server.v1, api_key=API_KEY, max_retries=0) as api:
        await _bot(OpenAIInference(api, "smollm2"))
        await dpytest.message("!ask what is a teletype?")
        (answer,) = said()
    assert answer.strip() and not answer.startswith("Sorry")

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with openai.AsyncOpenAI(
        base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0
    ) as down:
        await _bot(OpenAIInference(down, "smollm2"))
        await dpytest.message("!ask anyone home?")
        await dpytest.message("!help")
        sorry, help_ = said()
    assert sorry.startswith("Sorry, I can't answer right now")
    assert help_.startswith("Commands:")
