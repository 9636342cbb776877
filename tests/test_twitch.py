"""The real twitchio 3 client against a local fake of Twitch (id, Helix, EventSub
WebSocket): the Helix calls the bot really makes are what is asserted."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest
import twitchio
import twitchio.eventsub.websockets
import twitchio.http

from bots.twitch.settings import Credentials
from literai_core.chat import ChatLine, Media, Reply, ReplyKind
from literai_core.inference import OpenAIInference
from literai_core.settings import BotSettings

from .kit.clock import FakeClock
from .kit.fake_twitch import (
    BOT_ID,
    BOT_REFRESH,
    BOT_TOKEN,
    BROADCASTER_ID,
    CLIENT_ID,
    CLIENT_SECRET,
    FakeTwitch,
)
from .kit.scripted import MADE, ScriptedInference, prose
from .kit.server import API_KEY, Server, literai_run, write_config
from .kit.twitch_helpers import run_bot, stop_bot
from .kit.waiting import until


@pytest.mark.slow
async def test_ask_is_answered_by_the_real_model_as_a_threaded_reply(
    twitch: FakeTwitch, server: Server
) -> None:
    async with openai.AsyncOpenAI(base_url=server.v1, api_key=API_KEY, max_retries=0) as api:
        client, task = await run_bot(twitch, OpenAIInference(api, "smollm2"))
        try:
            sub = twitch.subscriptions[0]
            assert sub["type"] == "channel.chat.message"
            assert sub["condition"] == {"broadcaster_user_id": BROADCASTER_ID, "user_id": BOT_ID}
            asked = await twitch.chat("!ask what is a teletype?")
            await until(lambda: bool(twitch.sent))
        finally:
            await stop_bot(client, task)
    (sent,) = twitch.sent
    assert sent.broadcaster_id == BROADCASTER_ID and sent.sender_id == BOT_ID
    assert sent.reply_to == asked and sent.token == BOT_TOKEN  # the bot's own account
    assert 0 < len(sent.text) <= 500


async def test_long_replies_split_at_500_on_words_and_the_queue_keeps_the_rate(
    twitch: FakeTwitch,
) -> None:
    long, other = prose(22), prose(22, seed=1)  # ~1,350 characters each
    long_answers = {"max_reply_chars": 4000, "ask": {"max_sentences": 0}}
    bot = BotSettings(user_cooldown_s=0, channel_cooldown_s=0, **long_answers)  # type: ignore[arg-type]
    inference = ScriptedInference([long], [other])
    clock = FakeClock()  # the outbox's pacing runs on it: time passes when the test says
    client, task = await run_bot(twitch, inference, bot=bot, messages_per_30s=4, clock=clock)
    try:
        first = await twitch.chat("!ask tell me everything")
        second = await twitch.chat("!ask and again", user_id="4145995", login="another")
        await until(lambda: len(twitch.sent) >= 4 and bool(clock.sleeping))
        assert len(twitch.sent) == 4  # 4 per 30 s: the rest waits its turn
        wake = clock.now + 30  # a window after the first send
        assert clock.sleeping == [wake]
        clock.advance(29.9)
        assert clock.sleeping == [wake] and len(twitch.sent) == 4  # still waiting
        clock.advance_to(wake)
        await until(lambda: len(twitch.sent) == 6)
    finally:
        await stop_bot(client, task)
    assert all(len(s.text) <= 500 for s in twitch.sent)
    assert twitch.sent[0].reply_to == first and twitch.sent[1].reply_to is None
    assert twitch.sent[3].reply_to == second
    for reply, said in ((twitch.sent[:3], long), (twitch.sent[3:], other)):
        joined = " ".join(s.text for s in reply)
        assert " ".join(joined.split()) == " ".join(said.split())  # no word cut or lost
    assert all(not s.text.startswith(" ") for s in twitch.sent)


async def test_mod_only_commands_check_badges(twitch: FakeTwitch) -> None:
    client, task = await run_bot(twitch, ScriptedInference())
    try:
        await twitch.chat("!pause")
        await until(lambda: len(twitch.sent) == 1)
        await twitch.chat("!pause", user_id="77", login="amod", badges=["moderator"])
        await until(lambda: len(twitch.sent) == 2)
        await twitch.chat("!ask anyone?")  # paused: ignored quietly
        await twitch.chat("!resume", user_id=BROADCASTER_ID, badges=["broadcaster"])
        await until(lambda: len(twitch.sent) == 3)
    finally:
        await stop_bot(client, task)
    said = [s.text for s in twitch.sent]
    assert said == [
        "Only moderators can use !pause.",
        "Paused. !resume when you want me back.",
        "I'm back.",
    ]


async def test_a_down_model_server_gets_a_polite_reply(twitch: FakeTwitch) -> None:
    async with openai.AsyncOpenAI(
        base_url="http://127.0.0.1:9/v1", api_key="x", max_retries=0
    ) as api:
        client, task = await run_bot(twitch, OpenAIInference(api, "smollm2"))
        try:
            await twitch.chat("!ask anyone home?")
            await until(lambda: bool(twitch.sent))
            await twitch.chat("!help")
            await until(lambda: len(twitch.sent) == 2)
        finally:
            await stop_bot(client, task)
    assert "the model server is unreachable" in twitch.sent[0].text
    assert twitch.sent[1].text.startswith("Commands: !ask")


async def test_media_goes_to_the_overlay_and_chat_gets_a_short_line(twitch: FakeTwitch) -> None:
    client, task = await run_bot(twitch, ScriptedInference(MADE, MADE), overlay=True)
    try:
        await twitch.chat("!say hello stream")
        await twitch.chat("!imagine a teletype", user_id="5", login="artist")
        await until(lambda: len(twitch.sent) == 2)
    finally:
        await stop_bot(client, task)
    assert sorted(s.text for s in twitch.sent) == [
        "🎨 on screen now: a teletype",
        "🔊 on screen now: hello stream",
    ]


async def test_an_announced_episode_posts_its_player_link(twitch: FakeTwitch) -> None:
    """A finished podcast, posted unasked: chat gets the link to the player (the overlay
    plays the audio), not the usual "on screen now" line."""
    client, task = await run_bot(twitch, ScriptedInference(), overlay=True)
    link = "https://stream.example/episodes/tape-20261122-120000/"
    episode = Media(b"RIFF....", "audio/wav", "wav", "Podcast: Tape", link=link)
    where = ChatLine("twitch", "streamer", "", "", 0.0)
    try:
        caption = f"🎙️ New episode: Tape (2:05) — {link}"
        assert await client.core.announce(Reply(where, ReplyKind.MEDIA, caption, media=episode))
        elsewhere = ChatLine("twitch", "not-joined", "", "", 0.0)
        await client.core.announce(Reply(elsewhere, ReplyKind.ANSWER, "nobody hears this"))
        await until(lambda: len(twitch.sent) == 1)
    finally:
        await stop_bot(client, task)
    assert [s.text for s in twitch.sent] == [caption]


async def test_an_expired_token_is_refreshed(twitch: FakeTwitch) -> None:
    client, task = await run_bot(twitch, ScriptedInference(["Fresh."]))
    try:
        twitch.user_tokens.discard(BOT_TOKEN)  # it expires while the bot runs
        await twitch.chat("!ask still there?")
        await until(lambda: bool(twitch.sent))
    finally:
        await stop_bot(client, task)
    assert twitch.refreshed >= 1
    assert twitch.sent[0].text == "Fresh." and twitch.sent[0].token != BOT_TOKEN


async def test_a_bad_client_secret_fails_login(twitch: FakeTwitch) -> None:
    bad = Credentials(CLIENT_ID, "wrong-secret", BOT_TOKEN, BOT_REFRESH)
    with pytest.raises(twitchio.HTTPException) as caught:
        await run_bot(twitch, ScriptedInference(), credentials=bad)
    assert caught.value.status == 403


async def test_a_bad_bot_token_fails_setup(twitch: FakeTwitch) -> None:
    bad = Credentials(CLIENT_ID, CLIENT_SECRET, "not-a-token", "not-a-refresh-token")
    with pytest.raises(twitchio.InvalidTokenException):
        await run_bot(twitch, ScriptedInference(), credentials=bad)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("secret", "token", "said"),
    [
        ("wrong-secret", BOT_TOKEN, "twitch: Twitch refused the credentials (TWITCH_CLIENT_ID, "
         "TWITCH_CLIENT_SECRET): 403"),
        (CLIENT_SECRET, "not-a-token", "twitch: the token in TWITCH_BOT_TOKEN was rejected and "
         "could not be refreshed"),
    ],
)  # fmt: skip
async def test_bad_credentials_are_one_line_and_an_exit_code(
    twitch: FakeTwitch, server: Server, tmp_path: Path, secret: str, token: str, said: str
) -> None:
    config = write_config(
        tmp_path,
        console={"enabled": False},
        client={"base_url": server.v1, "api_key_env": "LITERAI_TEST_KEY"},
        twitch={
            "enabled": True,
            "channels": ["streamer"],
            "api_base_url": twitch.api_base,
            "id_base_url": twitch.id_base,
            "eventsub_url": twitch.eventsub,
        },
    )
    env = {
        "TWITCH_CLIENT_ID": CLIENT_ID,
        "TWITCH_CLIENT_SECRET": secret,
        "TWITCH_BOT_TOKEN": token,
        "TWITCH_BOT_REFRESH_TOKEN": "not-a-refresh-token",
        "LITERAI_TEST_KEY": API_KEY,
    }
    code, err = await literai_run(config, env)
    assert code == 1
    assert err == f"literai: {said}\n", err
    assert secret not in err and token not in err


@pytest.mark.slow
async def test_missing_credentials_are_named_in_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, twitch={"enabled": True, "channels": ["streamer"]})
    env = {"TWITCH_CLIENT_ID": CLIENT_ID, "TWITCH_BOT_TOKEN": ""}
    code, err = await literai_run(config, env)
    assert code == 2
    assert err == (
        "literai: config error: twitch: twitch is enabled but TWITCH_CLIENT_SECRET, "
        "TWITCH_BOT_TOKEN, TWITCH_BOT_REFRESH_TOKEN are not set in the environment\n"
    ), err


async def test_answers_waiting_for_the_rate_share_a_message_naming_each_asker(
    twitch: FakeTwitch,
) -> None:
    said = ["The bell rings twice.", "Paper runs out at dawn.", "Ribbons fade in summer.",
            "Keys stick when it rains."]  # fmt: skip
    answers = [(text,) for text in said]
    clock = FakeClock()
    client, task = await run_bot(
        twitch, ScriptedInference(*answers), messages_per_30s=1, clock=clock
    )
    try:
        first = await twitch.chat("!ask one?", user_id="1", login="ana")
        await until(lambda: len(twitch.sent) == 1)  # the window is now full
        for uid, login in (("2", "bo"), ("3", "cy"), ("4", "dee")):
            await twitch.chat(f"!ask from {login}?", user_id=uid, login=login)
        await until(lambda: bool(clock.sleeping))
        clock.advance(30)
        await until(lambda: len(twitch.sent) == 2)
    finally:
        await stop_bot(client, task)
    assert twitch.sent[0].reply_to == first and twitch.sent[1].reply_to is None
    assert twitch.sent[1].text == (
        "bo: Paper runs out at dawn. · cy: Ribbons fade in summer. · dee: Keys stick when it rains."
    )  # one message for three answers, each naming its asker without an @
