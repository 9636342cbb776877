"""What each command does on Discord, for whom: the real LiteraiDiscord against the fake
gateway and REST, one member's message at a time, each handled to the end before the
next. Answers reply to the question, notices and cooldowns, block lists, moderators by
Manage Server, Administrator or role name, files with captions, DMs, the real model, a
model server that is down. Any error the bot logs fails the test (the ``fake`` fixture).
Pacing is not under test here: the bot's clock jumps over its pacers' waits (``chat``,
tests/kit/discord_chat.py)."""

from __future__ import annotations

import socket

import openai
import pytest

from bots.discord.client import BUSY
from bots.discord.settings import DiscordSettings
from literai_core.chat import ChannelKey
from literai_core.inference import OpenAIInference

from .kit.discord_chat import ALICE, BOB, CAROL, DAVE, MYSELF, OTHER_BOT, PERSONA, Chat
from .kit.fake_discord import (
    ADMINISTRATOR,
    CHANNEL_ID,
    MANAGE_GUILD,
    MUTED_ROLE_ID,
    FakeDiscord,
    Posted,
)
from .kit.media import colour_of, picture, png_of, spoken, wav_seconds
from .kit.scripted import MADE, UNREACHABLE, ScriptedInference
from .kit.server import API_KEY, Server

MAIN = ChannelKey("discord", CHANNEL_ID)


def asked(inference: ScriptedInference, n: int = -1) -> list[dict[str, str]]:
    messages = inference.calls[n].messages
    assert messages is not None
    return messages


def closed_port() -> int:
    with socket.socket() as s:  # bound, then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# ------------------------------------------------------------------------------------------ !ask


async def test_ask_is_answered_in_reply_to_the_question(chat: Chat, fake: FakeDiscord) -> None:
    inference = ScriptedInference(["A machine ", "that types."], ["Yes."])
    client = await chat.start(inference)
    question = await chat.say(ALICE, "!ask what is a teletype?")
    (answer,) = fake.take()
    assert answer.text == "A machine that types."
    assert answer.reference == question  # a reply to the question
    assert answer.channel_id == CHANNEL_ID
    assert fake.reactions(question) == []
    system, user = asked(inference)
    assert system == {"role": "system", "content": PERSONA}
    assert user["role"] == "user" and user["content"].endswith("what is a teletype?")
    assert inference.calls[0].user == "alice"  # the asker's display name

    # The answer joined the channel's window: the next question sees it.
    await chat.say(BOB, "!ask are you sure?")
    assert chat.said() == ["Yes."]
    assert "A machine that types." in asked(inference)[1]["content"]  # the user message
    assert [ln.text for ln in client.core.windows.lines(MAIN)] == ["A machine that types.", "Yes."]


# --------------------------------------------------------------------------------------- notices


async def test_help_lists_the_commands_a_member_may_use(chat: Chat, fake: FakeDiscord) -> None:
    await chat.start(ScriptedInference())
    managers = await fake.add_role("Managers", MANAGE_GUILD)
    await chat.say(ALICE, "!help")
    await chat.say(BOB, "!help", roles=[managers])
    await chat.say(ALICE, "!help ask")
    plain, mod, one = chat.said()
    assert plain.startswith("Commands: ") and plain.endswith("!help <command> for details.")
    listed = set(plain.split(".")[0].removeprefix("Commands: ").split())
    assert {"!ask", "!gpt2", "!help", "!say", "!imagine", "!summary", "!story", "!podcast"} <= (
        listed
    )
    assert not listed & {"!clear", "!persona", "!pause", "!recap"}  # moderators only
    assert {"!clear", "!persona", "!recap"} <= set(mod.split(".")[0].split())
    assert one.startswith("!ask <question> — Ask the bot anything")


async def test_unknown_command_and_missing_arguments_get_a_notice(
    chat: Chat, fake: FakeDiscord
) -> None:
    inference = ScriptedInference()
    await chat.start(inference)
    unknown = await chat.say(ALICE, "!frobnicate now")
    await chat.say(ALICE, "!ask")
    await chat.say(ALICE, "!imagine")
    assert chat.said() == [
        "Unknown command !frobnicate. Try !help.",
        "Usage: !ask <question>",
        "Usage: !imagine <prompt>",
    ]
    assert fake.take() == []  # nothing more
    assert fake.reactions(unknown) == []
    assert inference.calls == []  # none of these reached the model


async def test_a_prompt_over_the_limit_is_refused_without_calling_the_model(
    chat: Chat, fake: FakeDiscord
) -> None:
    inference = ScriptedInference(["Fine."])
    await chat.start(inference, {"max_prompt_chars": 100})
    long = await chat.say(ALICE, "!ask " + "x" * 101)
    (notice,) = fake.take()
    assert notice.text == "That's too long for me (101 characters; the limit is 100)."
    assert notice.reference == long
    assert inference.calls == []
    await chat.say(ALICE, "!ask " + "y" * 100)  # at the limit: asked
    assert chat.said() == ["Fine."]
    assert len(inference.calls) == 1
    assert asked(inference)[-1]["content"].endswith("y" * 100)


# -------------------------------------------------------------------------------------- cooldown


async def test_a_user_on_cooldown_gets_a_busy_reaction_not_an_answer(
    chat: Chat, fake: FakeDiscord
) -> None:
    inference = ScriptedInference(["First."], ["For Bob."], ["Later."])
    await chat.start(inference, {"user_cooldown_s": 30})
    first = await chat.say(ALICE, "!ask one?")
    again = await chat.say(ALICE, "!ask two?")  # 0 s later: refused
    third = await chat.say(ALICE, "!ask three?")  # told once already
    assert chat.said() == ["First."]
    assert fake.reactions(first) == []
    assert fake.reactions(again) == [BUSY]  # the bot's own ⏳
    assert fake.reactions(third) == []
    assert len(inference.calls) == 1

    await chat.say(BOB, "!ask hi?")  # the cooldown is per user
    chat.clock.advance(31)
    await chat.say(ALICE, "!ask four?")
    assert chat.said() == ["For Bob.", "Later."]
    assert asked(inference, 1)[-1]["content"].endswith("hi?")
    assert asked(inference, 2)[-1]["content"].endswith("four?")


# ---------------------------------------------------------------------------------- who may talk


async def test_blocked_users_blocked_roles_and_bots_get_no_reply(
    chat: Chat, fake: FakeDiscord
) -> None:
    inference = ScriptedInference(["Hello Dave."])
    client = await chat.start(inference)
    quiet = await fake.add_role("Quiet")
    client.reconfigure(  # as !reload would
        DiscordSettings(
            slash_commands=False,
            voice={"enabled": False},
            block_users=[ALICE.user_id],
            block_roles=["Muted", quiet],  # a role by name, a role by id
        )
    )
    tried = [
        await chat.say(ALICE, "!ask am I blocked?"),
        await chat.say(BOB, "!help", roles=[MUTED_ROLE_ID]),
        await chat.say(CAROL, "!ask me too?", roles=[quiet]),
        await chat.say(OTHER_BOT, "!ask beep?"),
        await chat.say(MYSELF, "!ask myself?"),
    ]
    assert chat.said() == []
    assert all(fake.reactions(m) == [] for m in tried)
    assert inference.calls == []

    helped = await chat.say(DAVE, "!ask and me?")  # nobody blocked him
    (answer,) = fake.take()
    assert (answer.text, answer.reference) == ("Hello Dave.", helped)
    assert len(inference.calls) == 1


# ------------------------------------------------------------------------------------ moderators


@pytest.mark.parametrize(
    ("role", "permissions"),
    [
        ("Managers", MANAGE_GUILD),  # Manage Server: reported as "admin"
        ("Admins", ADMINISTRATOR),  # Administrator: likewise
        ("moderator", 0),  # a role named like one of bot.mod_roles
    ],
    ids=["Managers", "Admins", "moderator"],
)
async def test_moderator_commands_need_a_moderator(
    chat: Chat, fake: FakeDiscord, role: str, permissions: int
) -> None:
    inference = ScriptedInference(["Arr."])
    client = await chat.start(inference)
    role_id = await fake.add_role(role, permissions)
    await chat.say(ALICE, "the password is swordfish")
    await chat.say(ALICE, "!clear")
    await chat.say(ALICE, "!persona Be a pirate.")
    assert chat.said() == [
        "Only moderators can use !clear.",
        "Only moderators can use !persona.",
    ]
    assert client.core.persona(MAIN) == PERSONA  # unchanged
    assert len(client.core.windows.lines(MAIN)) == 1  # not cleared

    await chat.say(BOB, "!persona Be a pirate.", roles=[role_id])
    await chat.say(BOB, "!clear", roles=[role_id])
    assert chat.said() == [
        "Persona updated for this channel.",
        "Done: I've forgotten the recent chat here.",
    ]
    await chat.say(ALICE, "!ask who are you?")
    assert chat.said() == ["Arr."]
    system, user = asked(inference)
    assert system["content"] == "Be a pirate."
    assert "swordfish" not in user["content"]


# ----------------------------------------------------------------------------------------- files


async def test_say_and_imagine_post_their_files(chat: Chat, fake: FakeDiscord) -> None:
    inference = ScriptedInference(MADE, MADE)
    await chat.start(inference)
    say = await chat.say(ALICE, "!say hello")
    (speech,) = fake.take()
    imagine = await chat.say(ALICE, "!imagine a cat")
    (image,) = fake.take()

    ((name, wav),) = speech.files
    assert name == "speech.wav" and wav == spoken("hello") and wav_seconds(wav) == 0.1
    assert (speech.text, speech.reference) == ("🔊 hello", say)
    assert speech.alts == ["hello"]  # the file's description: its alt text

    ((name, png),) = image.files
    assert name == "image.png" and png == picture("a cat", "512x512")
    assert png_of(png) == ((512, 512), colour_of("a cat"))
    assert (image.text, image.reference) == ("🎨 a cat", imagine)
    assert image.alts == ["a cat"]

    assert [(c.kind, c.prompt) for c in inference.calls] == [
        ("speech", "hello"),
        ("image", "a cat"),
    ]


# ------------------------------------------------------------------------------------------- DMs


async def test_direct_messages_get_a_window_per_user(chat: Chat, fake: FakeDiscord) -> None:
    inference = ScriptedInference(["It is 1234."], ["Hi Bob."])
    await chat.start(inference)
    await chat.say(ALICE, "in the guild: the door code is 5678")
    await chat.say(ALICE, "my locker code is 1234", dm=True)
    await chat.say(ALICE, "!ask what is my locker code?", dm=True)
    await chat.say(BOB, "!ask hello?", dm=True)
    for_alice, for_bob = fake.take()
    assert (for_alice.text, for_alice.channel_id) == ("It is 1234.", fake.dm_channel(ALICE.user_id))
    assert (for_bob.text, for_bob.channel_id) == ("Hi Bob.", fake.dm_channel(BOB.user_id))

    to_alice = "\n".join(m["content"] for m in asked(inference, 0))
    assert "my locker code is 1234" in to_alice  # her own DM window
    assert "5678" not in to_alice  # not the guild channel's
    to_bob = "\n".join(m["content"] for m in asked(inference, 1))
    assert "1234" not in to_bob and "5678" not in to_bob
    assert to_bob.endswith("hello?")


# ------------------------------------------------------------------------------------ real model


@pytest.mark.slow
async def test_the_real_model_answers_through_discord(
    chat: Chat, fake: FakeDiscord, server: Server
) -> None:
    async with openai.AsyncOpenAI(base_url=server.v1, api_key=API_KEY, max_retries=0) as api:
        client = await chat.start(
            OpenAIInference(api, "smollm2"), {"ask": {"max_tokens": 32, "temperature": 0}}
        )
        question = await chat.say(ALICE, "!ask what is a teletype?")
        posted: list[Posted] = fake.take()
    assert len(posted) == 1, [p.text for p in posted]
    answer = posted[0]
    assert answer.reference == question
    assert answer.text.strip() and not answer.text.startswith("Sorry")
    assert not answer.text.endswith(" …")  # the streaming preview was finished
    (remembered,) = client.core.windows.lines(MAIN)
    assert (remembered.user, remembered.text) == ("literai", answer.text)


async def test_a_down_model_server_gets_a_polite_reply_and_the_bot_goes_on(
    chat: Chat, fake: FakeDiscord
) -> None:
    port = closed_port()
    async with openai.AsyncOpenAI(
        base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0
    ) as down:
        await chat.start(OpenAIInference(down, "smollm2"))
        tried = [
            await chat.say(ALICE, "!ask anyone home?"),
            await chat.say(ALICE, "!help"),
            await chat.say(ALICE, "!ask still nobody?"),  # not refused: the slot was freed
            await chat.say(ALICE, "!say hi"),
        ]
        posted = fake.take()
    assert [p.text for p in posted] == [
        f"Sorry, I can't answer right now: {UNREACHABLE}. Please try again in a minute.",
        posted[1].text,
        f"Sorry, I can't answer right now: {UNREACHABLE}. Please try again in a minute.",
        f"Sorry, I can't speak right now: {UNREACHABLE}.",
    ]
    assert posted[1].text.startswith("Commands: ")
    assert [p.reference for p in posted] == tried
    assert all(fake.reactions(m) == [] for m in tried)
