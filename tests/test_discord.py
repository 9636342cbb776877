"""The real discord.py client against a local fake of Discord's gateway and REST: the
calls the bot really makes (sends, paced edits, splits, files) are what is asserted."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import openai
import pytest

from bots.config import load_config
from bots.discord.client import LiteraiDiscord
from bots.discord.settings import DiscordSettings
from bots.reload import Reloader
from literai_core.chat import ChatLine, Media, Reply, ReplyKind
from literai_core.commands import default_components
from literai_core.core import ChatCore
from literai_core.inference import OpenAIInference
from literai_core.settings import BotSettings

from .conftest import API_KEY, Server, literai_run, write_config
from .discord_helpers import BOT
from .discord_helpers import run_bot as _run_bot
from .discord_helpers import stop_bot as _stop
from .discord_helpers import until as _until
from .fake_discord import CHANNEL_ID, EPHEMERAL, THREAD_ID, Action, FakeDiscord, fixture
from .test_core import ScriptedInference
from .test_discord_voice import tone

MODS = "1100000000000000050"  # a role with Manage Server


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
        "Commands: !ask !gpt2 !help !imagine !join !leave !podcast !say !skip !stop !story "
        "!summary. "
        "!help <command> for details."
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


async def test_slash_commands_are_registered_with_described_options(fake: FakeDiscord) -> None:
    client, task = await _run_bot(fake, ScriptedInference())
    await _stop(client, task)
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
    long = "The teletype hums and prints. " * 80  # ~2,400 characters: two messages
    client, task = await _run_bot(fake, ScriptedInference([w + " " for w in long.split()]))
    try:
        await fake.user_slash("ask", {"question": "what is a teletype?"})
        await _until(lambda: sum(a.kind == "send" for a in fake.actions) == 1, 15)
        await asyncio.sleep(0.3)
    finally:
        await _stop(client, task)
    kinds = [a.kind for a in fake.actions]
    assert kinds[0] == "respond" and fake.actions[0].content == "defer"
    assert not fake.actions[0].flags & EPHEMERAL  # the answer is for everyone
    edits = [a for a in fake.actions if a.kind == "edit"]
    assert edits and all(e.message_id == fake.actions[0].message_id for e in edits)
    follow = next(a for a in fake.actions if a.kind == "send")
    final = edits[-1].content + "\n" + follow.content
    assert len(edits[-1].content) <= 2000 and not edits[-1].content.endswith("…")
    assert " ".join(final.split()) == " ".join(long.split())[: len(" ".join(final.split()))]
    assert _max_per_5s(fake.actions) <= 5


async def test_slash_notices_are_private_and_roles_are_checked(fake: FakeDiscord) -> None:
    bot = BotSettings(user_cooldown_s=60, channel_cooldown_s=0)  # type: ignore[call-arg]
    client, task = await _run_bot(fake, ScriptedInference(["Sure."]), bot=bot)
    try:
        await fake.user_slash("help")
        await fake.user_slash("clear")
        await fake.user_slash("clear", roles=["1100000000000000050"])  # Mods: Manage Server
        await fake.user_slash("ask", {"question": "one?"})
        await _until(lambda: any(a.content == "Sure." for a in fake.actions))
        await fake.user_slash("ask", {"question": "two?"})  # on cooldown
        await _until(lambda: sum(a.kind == "respond" for a in fake.actions) == 5)
    finally:
        await _stop(client, task)
    responses = [a for a in fake.actions if a.kind == "respond"]
    private = [a.content for a in responses if a.flags & EPHEMERAL]
    assert private[0].startswith("Commands: !ask")
    assert private[1] == "Only moderators can use !clear."
    assert private[2] == "Done: I've forgotten the recent chat here."
    assert private[3].startswith("@viewer slow down")
    assert [a.content for a in responses if not a.flags & EPHEMERAL] == ["defer"]


async def test_slash_say_attaches_the_audio_to_the_response(
    fake: FakeDiscord, server: Server
) -> None:
    async with openai.AsyncOpenAI(base_url=server.v1, api_key=API_KEY, max_retries=0) as api:
        client, task = await _run_bot(fake, OpenAIInference(api, "smollm2"))
        try:
            await fake.user_slash("say", {"text": "hello from a slash command"})
            await _until(lambda: any(a.files for a in fake.actions))
        finally:
            await _stop(client, task)
    respond, edit = fake.actions
    assert respond.kind == "respond" and respond.content == "defer"
    assert edit.kind == "edit" and edit.content == "🔊 hello from a slash command"
    ((name, data),) = edit.files
    assert name == "speech.wav" and data[:4] == b"RIFF"


async def test_a_thread_has_its_own_window_and_its_parents_persona(fake: FakeDiscord) -> None:
    inference = ScriptedInference(["Ok."], ["Arr."])
    client, task = await _run_bot(fake, inference)
    try:
        await fake.user_says("!persona You are a pirate.", name="mod", roles=[MODS])
        await fake.user_says("a line in the channel")
        await fake.user_says("!ask hello?", channel_id=THREAD_ID)
        await _until(lambda: any(a.content == "Ok." for a in fake.actions))
        await fake.user_says("!ask and you?", dm=True)
        await _until(lambda: any(a.content == "Arr." for a in fake.actions))
    finally:
        await _stop(client, task)
    in_thread, in_dm = (c.messages or [] for c in inference.calls)
    assert in_thread[0]["content"] == "You are a pirate."
    assert not any("a line in the channel" in m["content"] for m in in_thread)
    assert in_dm[0]["content"] != "You are a pirate."  # a DM is nobody's thread
    assert not any("a line in the channel" in m["content"] for m in in_dm)
    answered = next(a for a in fake.actions if a.content == "Ok.")
    assert answered.channel_id == THREAD_ID


async def test_a_rejected_token_is_one_line_and_an_exit_code(
    fake: FakeDiscord, server: Server, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        console={"enabled": False},
        client={"base_url": server.v1, "api_key_env": "LITERAI_TEST_KEY"},
        discord={"enabled": True, "token_env": "LITERAI_TEST_TOKEN", "api_base_url": fake.api_base},
    )
    code, err = await literai_run(
        config, {"LITERAI_TEST_TOKEN": "not-the-token", "LITERAI_TEST_KEY": API_KEY}
    )
    assert code == 1
    assert err == "literai: discord: the token in LITERAI_TEST_TOKEN was rejected\n", err
    assert "not-the-token" not in err


async def test_reload_applies_new_settings_and_refuses_a_bad_file(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    path = write_config(tmp_path, bot={"user_cooldown_s": 0, "channel_cooldown_s": 0})
    config = load_config(path)
    reloader = Reloader(lambda: load_config(path), config)
    client, task = await _run_bot(
        fake, ScriptedInference(), bot=config.bot, components=default_components(reload=reloader)
    )
    reloader.appliers += [
        lambda new: client.core.reconfigure(new.bot),
        lambda new: client.reconfigure(new.discord),
    ]
    try:
        await fake.user_says("!reload")  # not a moderator
        await _until(lambda: len(fake.actions) == 1)
        write_config(
            tmp_path,
            bot={"prefix": "?", "user_cooldown_s": 0, "channel_cooldown_s": 0},
            discord={"block_users": ["1100000000000000666"]},
            server={"port": 8123},
        )
        await fake.user_says("!reload", name="mod", roles=[MODS])
        await _until(lambda: len(fake.actions) == 2)
        await fake.user_says("?help", user_id="1100000000000000666", name="troll")
        await fake.user_says("?help", name="fan")
        await _until(lambda: len(fake.actions) == 3)
        path.write_text("bot: {prefix: '!!!!'}\n")
        await fake.user_says("?reload", name="mod", roles=[MODS])
        await _until(lambda: len(fake.actions) == 4)
        await fake.user_says("?help", name="fan")  # still "?": nothing changed
        await _until(lambda: len(fake.actions) == 5)
    finally:
        await _stop(client, task)
    said = [a.content for a in fake.actions]
    assert said[0] == "Only moderators can use !reload."
    assert said[1] == "Config reloaded. A restart is needed for: server."
    assert said[2].startswith("Commands: ?ask") and "?reload" not in said[2]
    assert said[3].startswith("Config not reloaded, nothing changed: config error")
    assert "bot.prefix" in said[3]
    assert said[4].startswith("Commands: ?ask")


async def test_a_dropped_gateway_is_resumed_and_the_window_survives(fake: FakeDiscord) -> None:
    inference = ScriptedInference(["It prints."])
    client, task = await _run_bot(fake, inference)
    try:
        await fake.user_says("the teletype is warming up")
        await asyncio.sleep(0.2)
        await fake.drop_connection()
        await asyncio.wait_for(fake.identified.wait(), 30)
        await fake.user_says("!ask what is warming up?")
        await _until(lambda: any(a.content == "It prints." for a in fake.actions))
    finally:
        await _stop(client, task)
    assert fake.connections == 2 and fake.resumed == [fixture("ready")["session_id"]]
    (call,) = inference.calls
    assert any("the teletype is warming up" in m["content"] for m in call.messages or [])


async def test_an_announced_episode_is_re_encoded_to_fit_and_big_images_are_left_out(
    fake: FakeDiscord,
) -> None:
    """A finished podcast is posted unasked; a WAV over the upload limit goes up as Ogg
    Opus (real ffmpeg), and what cannot be made to fit is named, not dropped silently."""
    client, task = await _run_bot(fake, ScriptedInference(), max_upload_bytes=100_000)
    wav = tone(8.0)  # ~350 kB of WAV
    where = ChatLine("discord", CHANNEL_ID, "", "", 0.0)
    episode = Media(wav, "audio/wav", "wav", "Podcast: Tape", link="http://x/episodes/tape/")
    picture = Media(b"\x89PNG" + bytes(200_000), "image/png", "png", "a huge picture")
    try:
        assert await client.core.announce(
            Reply(where, ReplyKind.MEDIA, "🎙️ New episode: Tape — http://x/episodes/tape/",
                  media=episode)
        )  # fmt: skip
        assert await client.core.announce(Reply(where, ReplyKind.MEDIA, "🎨 huge", media=picture))
        await _until(lambda: len(fake.actions) == 2)
    finally:
        await _stop(client, task)
    posted, left_out = fake.actions
    assert posted.content == "🎙️ New episode: Tape — http://x/episodes/tape/"
    ((name, data),) = posted.files
    assert name == "episode.ogg" and data[:4] == b"OggS" and len(data) < 100_000
    decode = ["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", "48000",
              "-"]  # fmt: skip
    done = await asyncio.to_thread(subprocess.run, decode, input=data, capture_output=True)
    decoded = done.stdout
    assert abs(len(decoded) / 2 / 48000 - 8.0) < 0.1
    assert left_out.content == "🎨 huge\n(the file is too big to attach here)"
    assert left_out.files == []
