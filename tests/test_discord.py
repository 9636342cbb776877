"""The real discord.py client against a local fake of Discord's gateway and REST: the
calls the bot really makes (sends, paced edits, splits, files) are what is asserted.
Slash commands are in test_discord_slash.py, what each command does for whom in
test_discord_commands.py, voice in test_discord_voice.py."""

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

from .kit.discord_helpers import BOT, LONG, run_bot, settled, stop_bot
from .kit.fake_discord import (
    CHANNEL_ID,
    MODS_ROLE_ID,
    MUTED_ROLE_ID,
    THREAD_ID,
    FakeDiscord,
    fixture,
)
from .kit.media import tone
from .kit.scripted import ScriptedInference, prose
from .kit.server import API_KEY, Server, literai_run, write_config
from .kit.waiting import until


@pytest.mark.slow
async def test_ask_is_answered_by_the_real_model_in_a_reply(
    fake: FakeDiscord, server: Server
) -> None:
    async with openai.AsyncOpenAI(base_url=server.v1, api_key=API_KEY, max_retries=0) as api:
        client, task = await run_bot(fake, OpenAIInference(api, "smollm2"))
        try:
            asked = await fake.user_says("!ask what is a teletype?")
            await until(
                lambda: any(a.content and not a.content.endswith("…") for a in fake.actions)
            )
        finally:
            await stop_bot(client, task)
    first = fake.actions[0]
    assert first.kind == "send" and first.channel_id == CHANNEL_ID
    assert first.reference == asked  # threads to the asking message
    final = fake.actions[-1].content
    assert len(final.split()) >= 3 and not final.startswith("Sorry")


async def test_long_streamed_answers_are_paced_and_split(fake: FakeDiscord) -> None:
    pieces = prose(60).split(". ")  # ~3,700 characters, streamed slowly
    pieces = [piece + ". " for piece in pieces]

    class Slow(ScriptedInference):
        async def stream_chat(
            self, messages: Any, gen: Any, *, user: Any = None
        ) -> AsyncIterator[str]:
            for piece in pieces:
                # A model that takes its time: the edit interval under test runs on the
                # event loop's own time (post.py takes no clock), so real time passes.
                await asyncio.sleep(0.05)
                yield piece

    client, task = await run_bot(fake, Slow(), bot=LONG, edit_interval_s=0.5)
    try:
        await fake.user_says("!ask tell me a long story")
        await until(lambda: sum(a.kind == "send" for a in fake.actions) >= 2, 90)
        await settled(client, fake)  # the final edits too
    finally:
        await stop_bot(client, task)
    sends = [a for a in fake.actions if a.kind == "send"]
    edits = [a for a in fake.actions if a.kind == "edit"]
    # max_reply_chars 4000: two messages, the first grown by paced edits.
    assert len(sends) == 2 and edits, [a.kind for a in fake.actions]
    assert all(len(a.content) <= 2000 for a in fake.actions)
    final_parts = [fake.actions[-1 - i].content for i in range(2)][::-1]
    assert all(not p.endswith("…") and p.endswith(".") for p in final_parts)
    gaps = [b.at - a.at for a, b in itertools.pairwise(edits)]
    assert all(g >= 0.45 for g in gaps[:-1]), gaps  # the last edit is the final one
    assert fake.max_per_5s() <= 5


async def test_bots_blocked_users_and_unknown_users_roles(fake: FakeDiscord) -> None:
    client, task = await run_bot(
        fake,
        ScriptedInference(),
        block_users=["1100000000000000666"],
        block_roles=["Muted"],
    )
    try:
        await fake.user_says("!help", bot=True, name="otherbot")
        await fake.user_says("!help", user_id="1100000000000000666", name="troll")
        await fake.user_says("!help", roles=[MUTED_ROLE_ID], name="muted")
        await fake.user_says("!help", name="fan")
        await settled(client, fake)  # all four handled: one answered
    finally:
        await stop_bot(client, task)
    assert [a.content for a in fake.actions] == [
        "Commands: !ask !forget !gpt2 !help !imagine !join !leave !memory !podcast !say !skip "
        "!stop !story !summary. "
        "!help <command> for details."
    ]


@pytest.mark.slow
async def test_speech_arrives_as_an_attachment(fake: FakeDiscord, server: Server) -> None:
    async with openai.AsyncOpenAI(base_url=server.v1, api_key=API_KEY, max_retries=0) as api:
        client, task = await run_bot(fake, OpenAIInference(api, "smollm2"))
        try:
            await fake.user_says("!say hello discord")
            await until(lambda: bool(fake.actions))
        finally:
            await stop_bot(client, task)
    (action,) = fake.actions
    assert action.content == "🔊 hello discord"
    ((name, data),) = action.files
    assert name == "speech.wav" and data[:4] == b"RIFF" and len(data) > 22050


async def test_a_down_model_server_gets_a_polite_reply(fake: FakeDiscord) -> None:
    async with openai.AsyncOpenAI(
        base_url="http://127.0.0.1:9/v1", api_key="x", max_retries=0
    ) as api:
        client, task = await run_bot(fake, OpenAIInference(api, "smollm2"))
        try:
            await fake.user_says("!ask anyone home?")
            await until(lambda: any("Sorry" in a.content for a in fake.actions))
        finally:
            await stop_bot(client, task)
    assert "the model server is unreachable" in fake.actions[-1].content


async def test_a_wrong_token_fails_login(fake: FakeDiscord) -> None:
    client = LiteraiDiscord(ChatCore(BOT, ScriptedInference()), DiscordSettings())
    with pytest.raises(discord.LoginFailure):
        await client.start("wrong-token")
    await client.close()


async def test_manage_server_members_are_moderators(fake: FakeDiscord) -> None:
    client, task = await run_bot(fake, ScriptedInference())
    try:
        await fake.user_says("!clear", name="viewer")
        await fake.user_says("!clear", name="mod", roles=[MODS_ROLE_ID])  # Mods
        await until(lambda: len(fake.actions) >= 2)
    finally:
        await stop_bot(client, task)
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
        await until(lambda: any(a.content == "Sure." for a in fake.actions))
        second = await fake.user_says("!ask two?")
        await until(lambda: any(a.kind == "react" for a in fake.actions))
    finally:
        await stop_bot(client, task)
    react = next(a for a in fake.actions if a.kind == "react")
    assert react.message_id == second and react.content == "⏳"
    assert sum(a.kind == "send" for a in fake.actions) == 1


async def test_a_thread_has_its_own_window_and_its_parents_persona(fake: FakeDiscord) -> None:
    inference = ScriptedInference(["Ok."], ["Arr."])
    client, task = await run_bot(fake, inference)
    try:
        await fake.user_says("!persona You are a pirate.", name="mod", roles=[MODS_ROLE_ID])
        await fake.user_says("a line in the channel")
        await fake.user_says("!ask hello?", channel_id=THREAD_ID)
        await until(lambda: any(a.content == "Ok." for a in fake.actions))
        await fake.user_says("!ask and you?", dm=True)
        await until(lambda: any(a.content == "Arr." for a in fake.actions))
    finally:
        await stop_bot(client, task)
    in_thread, in_dm = (c.messages or [] for c in inference.calls)
    assert in_thread[0]["content"] == "You are a pirate."
    assert not any("a line in the channel" in m["content"] for m in in_thread)
    assert in_dm[0]["content"] != "You are a pirate."  # a DM is nobody's thread
    assert not any("a line in the channel" in m["content"] for m in in_dm)
    answered = next(a for a in fake.actions if a.content == "Ok.")
    assert answered.channel_id == THREAD_ID


@pytest.mark.slow
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
    # The same help twice: notices are not collapsed here (they have their own tests).
    quick = {"user_cooldown_s": 0, "channel_cooldown_s": 0, "repeat_notice_s": 0}
    path = write_config(tmp_path, bot=quick)
    config = load_config(path)
    reloader = Reloader(lambda: load_config(path), config)
    client, task = await run_bot(
        fake, ScriptedInference(), bot=config.bot, components=default_components(reload=reloader)
    )
    reloader.appliers += [
        lambda new: client.core.reconfigure(new.bot),
        lambda new: client.reconfigure(new.discord),
    ]
    try:
        await fake.user_says("!reload")  # not a moderator
        await until(lambda: len(fake.actions) == 1)
        write_config(
            tmp_path,
            bot={**quick, "prefix": "?"},
            discord={"block_users": ["1100000000000000666"]},
            server={"port": 8123},
        )
        await fake.user_says("!reload", name="mod", roles=[MODS_ROLE_ID])
        await until(lambda: len(fake.actions) == 2)
        await fake.user_says("?help", user_id="1100000000000000666", name="troll")
        await fake.user_says("?help", name="fan")
        await until(lambda: len(fake.actions) == 3)
        path.write_text("bot: {prefix: '!!!!', repeat_notice_s: 0}\n")
        await fake.user_says("?reload", name="mod", roles=[MODS_ROLE_ID])
        await until(lambda: len(fake.actions) == 4)
        await fake.user_says("?help", name="fan")  # still "?": nothing changed
        await until(lambda: len(fake.actions) == 5)
    finally:
        await stop_bot(client, task)
    said = [a.content for a in fake.actions]
    assert said[0] == "Only moderators can use !reload."
    assert said[1] == "Config reloaded. A restart is needed for: server."
    assert said[2].startswith("Commands: ?ask") and "?reload" not in said[2]
    assert said[3].startswith("Config not reloaded, nothing changed: config error")
    assert "bot.prefix" in said[3]
    assert said[4].startswith("Commands: ?ask")


async def test_a_dropped_gateway_is_resumed_and_the_window_survives(fake: FakeDiscord) -> None:
    inference = ScriptedInference(["It prints."])
    client, task = await run_bot(fake, inference)
    try:
        await fake.user_says("the teletype is warming up")
        await settled(client, fake)  # in the window before the connection drops
        await fake.drop_connection()
        await asyncio.wait_for(fake.identified.wait(), 30)
        await fake.user_says("!ask what is warming up?")
        await until(lambda: any(a.content == "It prints." for a in fake.actions))
    finally:
        await stop_bot(client, task)
    assert fake.connections == 2 and fake.resumed == [fixture("ready")["session_id"]]
    (call,) = inference.calls
    assert any("the teletype is warming up" in m["content"] for m in call.messages or [])


async def test_an_announced_episode_is_re_encoded_to_fit_and_big_images_are_left_out(
    fake: FakeDiscord,
) -> None:
    """A finished podcast is posted unasked; a WAV over the upload limit goes up as Ogg
    Opus (real ffmpeg), and what cannot be made to fit is named, not dropped silently."""
    client, task = await run_bot(fake, ScriptedInference(), max_upload_bytes=100_000)
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
        await until(lambda: len(fake.actions) == 2)
    finally:
        await stop_bot(client, task)
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
