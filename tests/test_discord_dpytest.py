"""The Discord bot's command logic under dpytest: real discord.py objects, state and
events, with dpytest's simulated backend in place of Discord. The connect, stream and
edit path against a gateway is tested in test_discord.py; here it is what each command
does, for whom: answers, help, notices, cooldowns, block lists, moderators, files, DMs,
the real model and a model server that is down.

What dpytest 0.7.0 (with discord.py 2.7) cannot do, and what this file does about it:

* A sent message loses what the bot asked for beyond content, embeds and files: its
  ``reference`` (the reply-to) is dropped, and so is the text of a message with a file
  (discord.py sends that in a multipart ``payload_json``, which dpytest never reads).
  ``Wire`` reads both from the request dpytest's fake HTTP client was handed, through
  dpytest's own ``send_message`` callback hook. Edits are likewise only reported through
  the ``edit_message`` hook (the message dpytest queued keeps its first text).
* Its reaction event lacks the ``type`` field discord.py 2.7 reads, so a reaction the
  bot adds raises KeyError inside discord.py (logged, never shown). ``Wire`` adds the
  field (a normal reaction, type 0); the reaction then lands on the message as usual.
* ``Client.close()`` reads ``ws.open``, which dpytest's websocket (no socket) cannot
  answer; the websocket is dropped before closing.
* Its backend needs the client's loop set up (``_async_setup_hook``, which ``login``
  would run) and, for its member cache, the members intent.
* Slash commands (``tree.sync`` and interactions) and voice are not simulated by
  dpytest; they are off here and tested against the fake gateway in test_discord.py and
  test_discord_voice.py.
* Pacing is real: a channel gets at most 5 sends per 5 s, so no test here posts more
  than 5 messages to one channel.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import discord.ext.test as dpytest
import openai
import pytest
from discord.ext.test import callbacks as dpytest_callbacks
from discord.ext.test import factories as dpytest_factories
from discord.ext.test.backend import FakeHttp
from discord.http import MultipartParameters

from bots.discord.client import BUSY, LiteraiDiscord
from bots.discord.settings import DiscordSettings
from literai_core.chat import ChannelKey
from literai_core.core import ChatCore
from literai_core.inference import Inference, OpenAIInference
from literai_core.settings import BotSettings

from .conftest import API_KEY, Server
from .test_core import ScriptedInference

PERSONA = "You are testbot, terse and kind."
# No cooldowns unless a test sets one; a small prompt limit to test against.
BOT: dict[str, Any] = {
    "persona": PERSONA,
    "user_cooldown_s": 0,
    "channel_cooldown_s": 0,
    "max_prompt_chars": 100,
}
MEMBERS = ("alice", "bob", "carol", "dave")
UNREACHABLE = "the model server is unreachable"

_SEND = FakeHttp.send_message.__code__


@dataclass
class Posted:
    """One message the bot sent, as it asked for it."""

    message: discord.Message  # as dpytest made it
    content: str  # the text sent, a file's caption included
    reference: int | None  # the id of the message it replies to
    files: list[dict[str, Any]]  # the attachments' metadata: filename, description
    edits: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """What the message says once the bot is done with it."""
        return self.edits[-1] if self.edits else self.content


def _request() -> MultipartParameters:
    """The request in the fake HTTP client's ``send_message`` that is calling us back
    (the way dpytest itself reads its callers' arguments)."""
    frame = sys._getframe(1)
    while frame.f_code is not _SEND:
        if frame.f_back is None:
            raise RuntimeError("not called from dpytest's send_message")
        frame = frame.f_back
    params: MultipartParameters = frame.f_locals["params"]
    return params


class Wire:
    """Everything the bot sent or edited, in order, including what dpytest drops."""

    def __init__(self) -> None:
        self.posted: list[Posted] = []
        self._queue_it = dpytest_callbacks.get_callback("send_message")

    async def on_send(self, message: discord.Message) -> None:
        params = _request()
        payload: dict[str, Any]
        if params.payload is not None:
            payload = dict(params.payload)
        else:  # a file: the message itself went as multipart payload_json
            parts = params.multipart or []
            payload = json.loads(next(p["value"] for p in parts if p["name"] == "payload_json"))
        ref = payload.get("message_reference") or {}
        self.posted.append(
            Posted(
                message,
                payload.get("content") or "",
                ref.get("message_id"),
                list(payload.get("attachments") or []),
            )
        )
        await self._queue_it(message)  # dpytest's own: into its sent queue

    async def on_edit(self, channel: Any, message: discord.Message, fields: Any) -> None:
        params: MultipartParameters = fields["params"]
        content = (params.payload or {}).get("content")
        for posted in self.posted:
            if posted.message.id == message.id and content is not None:
                posted.edits.append(content)

    def take(self) -> list[Posted]:
        """What was posted since the last take (dpytest's queue emptied alike)."""
        taken, self.posted = self.posted, []
        while not dpytest.sent_queue.empty():
            dpytest.get_message()
        return taken


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.clock = Clock()
        self.clients: list[LiteraiDiscord] = []
        self.wire: Wire | None = None

    async def start(
        self,
        inference: Inference,
        bot: dict[str, Any] | None = None,
        *,
        text_channels: int = 1,
        **discord_settings: Any,
    ) -> LiteraiDiscord:
        settings = DiscordSettings(
            slash_commands=False, voice={"enabled": False}, **discord_settings
        )
        intents = discord.Intents.default()
        intents.message_content = intents.members = True
        core = ChatCore(BotSettings(**{**BOT, **(bot or {})}), inference)
        client = LiteraiDiscord(core, settings, clock=self.clock, intents=intents)
        self.clients.append(client)
        await client._async_setup_hook()
        dpytest.configure(
            client, text_channels=text_channels, voice_channels=0, members=list(MEMBERS)
        )
        self.wire = Wire()
        dpytest_callbacks.set_callback(self.wire.on_send, "send_message")
        dpytest_callbacks.set_callback(self.wire.on_edit, "edit_message")
        state = dpytest.backend.get_state()
        parse: Callable[[Any], None] = state.parse_message_reaction_add
        self.monkeypatch.setattr(
            state, "parse_message_reaction_add", lambda data: parse({"type": 0, **data})
        )
        return client

    @property
    def guild(self) -> discord.Guild:
        return dpytest.get_config().guilds[0]

    @property
    def channels(self) -> list[discord.TextChannel]:
        return [c for c in dpytest.get_config().channels if isinstance(c, discord.TextChannel)]

    def member(self, name: str) -> discord.Member:
        (member,) = [m for m in dpytest.get_config().members if m.name == name]
        return member

    async def role(self, name: str, *members: discord.Member, **perms: bool) -> discord.Role:
        value = discord.Permissions(send_messages=True, read_messages=True, **perms).value
        role = dpytest.backend.make_role(name, self.guild, permissions=value)
        for member in members:
            await dpytest.add_role(member, role)
        return role

    def bot_member(self, name: str) -> discord.Member:
        """Another bot in the guild (dpytest's make_user makes only humans)."""
        data: Any = dpytest_factories.make_user_dict(name, "0042", None, bot=True)
        user = dpytest.backend.get_state().store_user(data)
        member = dpytest.backend.make_member(user, self.guild)
        assert member.bot
        return member

    def posted(self) -> list[Posted]:
        assert self.wire is not None
        return self.wire.take()

    def said(self) -> list[str]:
        return [p.text for p in self.posted()]

    async def close(self) -> None:
        await dpytest.empty_queue()
        for client in self.clients:
            client.ws = None  # type: ignore[assignment]  # dpytest's websocket has no socket
            await client.close()
        if self.wire is not None:
            dpytest_callbacks.set_callback(self.wire._queue_it, "send_message")
        dpytest_callbacks.remove_callback("edit_message")


@pytest.fixture
async def harness(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[Harness]:
    monkeypatch.chdir(tmp_path)  # dpytest writes each uploaded file to the working folder
    h = Harness(monkeypatch)
    try:
        yield h
    finally:
        await h.close()
    # discord.py logs an event handler's exception and goes on: make it a failure here.
    failed = [r.getMessage() for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not failed, failed


def reactions(message: discord.Message) -> list[tuple[str, bool]]:
    return [(str(r.emoji), r.me) for r in message.reactions]


def asked(inference: ScriptedInference, n: int = -1) -> list[dict[str, str]]:
    messages = inference.calls[n].messages
    assert messages is not None
    return messages


def closed_port() -> int:
    with socket.socket() as s:  # bound, then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# --------------------------------------------------------------------------- !ask


async def test_ask_is_answered_in_reply_to_the_question(harness: Harness) -> None:
    inference = ScriptedInference(["A machine ", "that types."], ["Yes."])
    client = await harness.start(inference)
    question = await dpytest.message("!ask what is a teletype?")
    assert dpytest.verify().message().peek().content("A machine that types.")
    (answer,) = harness.posted()
    assert answer.text == "A machine that types."
    assert answer.reference == question.id  # a reply to the question
    assert answer.message.channel.id == question.channel.id
    assert reactions(question) == []
    system, user = asked(inference)
    assert system == {"role": "system", "content": PERSONA}
    assert user["role"] == "user" and user["content"].endswith("asks: what is a teletype?")
    assert inference.calls[0].user == question.author.display_name

    # The answer joined the channel's window: the next question sees it.
    await dpytest.message("!ask are you sure?", member=harness.member("bob"))
    assert harness.said() == ["Yes."]
    assert "literai: A machine that types." in asked(inference)[-1]["content"]
    key = ChannelKey("discord", str(question.channel.id))
    assert [ln.text for ln in client.core.windows.lines(key)] == ["A machine that types.", "Yes."]


# --------------------------------------------------------------------------- notices


async def test_help_lists_the_commands_a_member_may_use(harness: Harness) -> None:
    await harness.start(ScriptedInference())
    bob = harness.member("bob")
    await harness.role("Managers", bob, manage_guild=True)
    await dpytest.message("!help", member=harness.member("alice"))
    await dpytest.message("!help", member=bob)
    await dpytest.message("!help ask")
    plain, mod, one = harness.said()
    assert plain.startswith("Commands: ") and plain.endswith("!help <command> for details.")
    listed = set(plain.split(".")[0].removeprefix("Commands: ").split())
    assert {"!ask", "!gpt2", "!help", "!say", "!imagine", "!summary", "!story", "!podcast"} <= (
        listed
    )
    assert not listed & {"!clear", "!persona", "!pause", "!recap"}  # moderators only
    assert {"!clear", "!persona", "!recap"} <= set(mod.split(".")[0].split())
    assert one.startswith("!ask <question> — Ask the bot anything")


async def test_unknown_command_and_missing_arguments_get_a_notice(harness: Harness) -> None:
    inference = ScriptedInference()
    await harness.start(inference)
    unknown = await dpytest.message("!frobnicate now")
    await dpytest.message("!ask")
    await dpytest.message("!imagine")
    assert harness.said() == [
        "Unknown command !frobnicate. Try !help.",
        "Usage: !ask <question>",
        "Usage: !imagine <prompt>",
    ]
    assert dpytest.verify().message().nothing()
    assert reactions(unknown) == []
    assert inference.calls == []  # none of these reached the model


async def test_a_prompt_over_the_limit_is_refused_without_calling_the_model(
    harness: Harness,
) -> None:
    inference = ScriptedInference(["Fine."])
    await harness.start(inference, {"max_prompt_chars": 100})
    long = await dpytest.message("!ask " + "x" * 101)
    (notice,) = harness.posted()
    assert notice.text == "That's too long for me (101 characters; the limit is 100)."
    assert notice.reference == long.id
    assert inference.calls == []
    await dpytest.message("!ask " + "y" * 100)  # at the limit: asked
    assert harness.said() == ["Fine."]
    assert len(inference.calls) == 1
    assert asked(inference)[-1]["content"].endswith("y" * 100)


# --------------------------------------------------------------------------- cooldown


async def test_a_user_on_cooldown_gets_a_busy_reaction_not_an_answer(harness: Harness) -> None:
    inference = ScriptedInference(["First."], ["For Bob."], ["Later."])
    await harness.start(inference, {"user_cooldown_s": 30})
    alice, bob = harness.member("alice"), harness.member("bob")
    first = await dpytest.message("!ask one?", member=alice)
    again = await dpytest.message("!ask two?", member=alice)  # 0 s later: refused
    third = await dpytest.message("!ask three?", member=alice)  # told once already
    assert harness.said() == ["First."]
    assert reactions(first) == []
    assert reactions(again) == [(BUSY, True)]  # the bot's own ⏳
    assert reactions(third) == []
    assert len(inference.calls) == 1

    await dpytest.message("!ask hi?", member=bob)  # the cooldown is per user
    harness.clock.now += 31
    await dpytest.message("!ask four?", member=alice)
    assert harness.said() == ["For Bob.", "Later."]
    assert asked(inference, 1)[-1]["content"].endswith("asks: hi?")
    assert asked(inference, 2)[-1]["content"].endswith("asks: four?")


# --------------------------------------------------------------------------- who may talk


async def test_blocked_users_blocked_roles_and_bots_get_no_reply(harness: Harness) -> None:
    inference = ScriptedInference(["Hello Dave."])
    client = await harness.start(inference)
    alice, bob, carol, dave = (harness.member(n) for n in MEMBERS)
    await harness.role("Muted", bob)
    by_id = await harness.role("Quiet", carol)
    client.reconfigure(  # as !reload would: ids are known only now
        DiscordSettings(
            slash_commands=False,
            voice={"enabled": False},
            block_users=[str(alice.id)],
            block_roles=["Muted", str(by_id.id)],  # a role by name, a role by id
        )
    )
    other_bot = harness.bot_member("otherbot")
    tried = [
        await dpytest.message("!ask am I blocked?", member=alice),
        await dpytest.message("!help", member=bob),
        await dpytest.message("!ask me too?", member=carol),
        await dpytest.message("!ask beep?", member=other_bot),
        await dpytest.message("!ask myself?", member=harness.guild.me),
    ]
    assert harness.said() == []
    assert all(reactions(m) == [] for m in tried)
    assert inference.calls == []

    helped = await dpytest.message("!ask and me?", member=dave)  # nobody blocked him
    (answer,) = harness.posted()
    assert (answer.text, answer.reference) == ("Hello Dave.", helped.id)
    assert len(inference.calls) == 1


# --------------------------------------------------------------------------- moderators


@pytest.mark.parametrize(
    ("role", "perms"),
    [
        ("Managers", {"manage_guild": True}),  # Manage Server: reported as "admin"
        ("Admins", {"administrator": True}),  # Administrator: likewise
        ("moderator", {}),  # a role named like one of bot.mod_roles
    ],
)
async def test_moderator_commands_need_a_moderator(
    harness: Harness, role: str, perms: dict[str, bool]
) -> None:
    inference = ScriptedInference(["Arr."])
    client = await harness.start(inference)
    alice, bob = harness.member("alice"), harness.member("bob")
    await harness.role(role, bob, **perms)
    await dpytest.message("the password is swordfish", member=alice)
    await dpytest.message("!clear", member=alice)
    await dpytest.message("!persona Be a pirate.", member=alice)
    assert harness.said() == [
        "Only moderators can use !clear.",
        "Only moderators can use !persona.",
    ]
    key = ChannelKey("discord", str(harness.channels[0].id))
    assert client.core.persona(key) == PERSONA  # unchanged
    assert len(client.core.windows.lines(key)) == 1  # not cleared

    await dpytest.message("!persona Be a pirate.", member=bob)
    await dpytest.message("!clear", member=bob)
    assert harness.said() == [
        "Persona updated for this channel.",
        "Done: I've forgotten the recent chat here.",
    ]
    await dpytest.message("!ask who are you?", member=alice)
    assert harness.said() == ["Arr."]
    system, user = asked(inference)
    assert system["content"] == "Be a pirate."
    assert "swordfish" not in user["content"]


# --------------------------------------------------------------------------- files


SPEECH = "RIFF\x24\x00\x00\x00WAVEfmt "  # what the scripted speech/image "returns"
PNG = "\x89PNG\r\n\x1a\n-a-cat"


async def test_say_and_imagine_post_their_files(harness: Harness, tmp_path: Path) -> None:
    inference = ScriptedInference([SPEECH], [PNG])
    await harness.start(inference)
    say = await dpytest.message("!say hello")
    wav = tmp_path / "expected.wav"
    wav.write_bytes(SPEECH.encode())
    assert dpytest.verify().message().peek().attachment(wav)  # dpytest's own byte check
    (speech,) = harness.posted()
    imagine = await dpytest.message("!imagine a cat")
    (image,) = harness.posted()

    assert [a.filename for a in speech.message.attachments] == ["speech.wav"]
    assert await speech.message.attachments[0].read() == SPEECH.encode()
    assert (speech.content, speech.reference) == ("🔊 hello", say.id)
    assert [f.get("description") for f in speech.files] == ["hello"]  # alt text

    assert [a.filename for a in image.message.attachments] == ["image.png"]
    assert await image.message.attachments[0].read() == PNG.encode()
    assert (image.content, image.reference) == ("🎨 a cat", imagine.id)
    assert [f.get("description") for f in image.files] == ["a cat"]

    # (ScriptedInference.image records its call as a "speech" call with the prompt.)
    assert [(c.kind, c.prompt) for c in inference.calls] == [
        ("speech", "hello"),
        ("speech", "a cat"),
    ]


# --------------------------------------------------------------------------- DMs


async def test_direct_messages_get_a_window_per_user(harness: Harness) -> None:
    inference = ScriptedInference(["It is 1234."], ["Hi Bob."])
    await harness.start(inference)
    alice, bob = harness.member("alice"), harness.member("bob")
    alice_dm, bob_dm = await alice.create_dm(), await bob.create_dm()
    await dpytest.message("in the guild: the door code is 5678", member=alice)
    await dpytest.message("my locker code is 1234", channel=alice_dm, member=alice)
    await dpytest.message("!ask what is my locker code?", channel=alice_dm, member=alice)
    await dpytest.message("!ask hello?", channel=bob_dm, member=bob)
    for_alice, for_bob = harness.posted()
    assert (for_alice.text, for_alice.message.channel.id) == ("It is 1234.", alice_dm.id)
    assert (for_bob.text, for_bob.message.channel.id) == ("Hi Bob.", bob_dm.id)

    to_alice = asked(inference, 0)[-1]["content"]
    assert "my locker code is 1234" in to_alice  # her own DM window
    assert "5678" not in to_alice  # not the guild channel's
    to_bob = "\n".join(m["content"] for m in asked(inference, 1))
    assert "1234" not in to_bob and "5678" not in to_bob
    assert to_bob.endswith("asks: hello?")


# --------------------------------------------------------------------------- real model


async def test_the_real_model_answers_through_discord(harness: Harness, server: Server) -> None:
    async with openai.AsyncOpenAI(base_url=server.v1, api_key=API_KEY, max_retries=0) as api:
        client = await harness.start(
            OpenAIInference(api, "smollm2"), {"ask": {"max_tokens": 32, "temperature": 0}}
        )
        question = await dpytest.message("!ask what is a teletype?")
        posted = harness.posted()
    assert len(posted) == 1, [p.text for p in posted]
    answer = posted[0]
    assert answer.reference == question.id
    assert answer.text.strip() and not answer.text.startswith("Sorry")
    assert not answer.text.endswith(" …")  # the streaming preview was finished
    key = ChannelKey("discord", str(question.channel.id))
    (remembered,) = client.core.windows.lines(key)
    assert (remembered.user, remembered.text) == ("literai", answer.text)


async def test_a_down_model_server_gets_a_polite_reply_and_the_bot_goes_on(
    harness: Harness,
) -> None:
    port = closed_port()
    async with openai.AsyncOpenAI(
        base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0
    ) as down:
        await harness.start(OpenAIInference(down, "smollm2"))
        tried: Sequence[discord.Message] = [
            await dpytest.message("!ask anyone home?"),
            await dpytest.message("!help"),
            await dpytest.message("!ask still nobody?"),  # not refused: the slot was freed
            await dpytest.message("!say hi"),
        ]
        posted = harness.posted()
    assert [p.text for p in posted] == [
        f"Sorry, I can't answer right now: {UNREACHABLE}. Please try again in a minute.",
        posted[1].text,
        f"Sorry, I can't answer right now: {UNREACHABLE}. Please try again in a minute.",
        f"Sorry, I can't speak right now: {UNREACHABLE}.",
    ]
    assert posted[1].text.startswith("Commands: ")
    assert [p.reference for p in posted] == [m.id for m in tried]
    assert all(reactions(m) == [] for m in tried)
