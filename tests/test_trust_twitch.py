"""Trust on Twitch, with the real twitchio against the fake Twitch: a failed token
refresh (whose error text is the whole token URL, client secret and refresh token
included) reaches no log line; one viewer's flood of commands cannot starve another's
question; a reply never starts a chat command."""

from __future__ import annotations

import logging

import pytest

from bots.redact import install
from literai_core.settings import BotSettings

from .kit.fake_twitch import BOT_REFRESH, BOT_TOKEN, CLIENT_SECRET, FakeTwitch
from .kit.scripted import ScriptedInference
from .kit.twitch_helpers import GOOD, run_bot, stop_bot
from .kit.waiting import until


async def test_a_failed_token_refresh_leaks_no_secret_into_the_logs(
    twitch: FakeTwitch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    undo = install([GOOD.client_secret, GOOD.token, GOOD.refresh])  # as literai does at start
    try:
        client, task = await run_bot(twitch, ScriptedInference(["An answer."]))
        try:
            twitch.user_tokens.clear()  # the bot's token expired...
            twitch.refresh_fails = True  # ...and its refresh token was revoked meanwhile
            await twitch.chat("!ask anyone?")
            await until(lambda: "could not send" in caplog.text)
        finally:
            await stop_bot(client, task)
    finally:
        undo()
    text = caplog.text
    assert "oauth2/token" in text  # the failure is logged, with the URL it failed on...
    for secret in (CLIENT_SECRET, BOT_REFRESH, BOT_TOKEN):
        assert secret not in text  # ...and not one secret in it


async def test_without_the_mask_that_failure_would_leak(
    twitch: FakeTwitch, caplog: pytest.LogCaptureFixture
) -> None:
    """The leak is real: the same failure, unmasked, carries the client secret."""
    caplog.set_level(logging.DEBUG)
    client, task = await run_bot(twitch, ScriptedInference(["An answer."]))
    try:
        twitch.user_tokens.clear()
        twitch.refresh_fails = True
        await twitch.chat("!ask anyone?")
        await until(lambda: "could not send" in caplog.text)
    finally:
        await stop_bot(client, task)
    assert CLIENT_SECRET in caplog.text


async def test_one_viewers_flood_does_not_starve_another(twitch: FakeTwitch) -> None:
    bot = BotSettings(user_cooldown_s=5, channel_cooldown_s=0)  # type: ignore[call-arg]
    client, task = await run_bot(twitch, ScriptedInference(["A teletype prints."]), bot=bot)
    try:
        for _ in range(40):
            await twitch.chat("!help", user_id="66", login="flooder")
        asked = await twitch.chat("!ask what is a teletype?", user_id="77", login="curious")
        await until(lambda: any(s.reply_to == asked for s in twitch.sent))
        await until(lambda: len(client.channels["1971641"].outbox._pending()) == 0)
    finally:
        await stop_bot(client, task)
    texts = [s.text for s in twitch.sent]
    assert sum(t.startswith("Commands:") for t in texts) == 1  # the same help, once
    assert sum("slow down" in t for t in texts) == 1  # then one notice, then quiet
    assert len(texts) == 3 and texts[-1] == "A teletype prints."


async def test_a_reply_never_starts_a_chat_command(twitch: FakeTwitch) -> None:
    client, task = await run_bot(twitch, ScriptedInference(["/ban streamer"]))
    try:
        await twitch.chat("!ask say something")
        await until(lambda: bool(twitch.sent))
    finally:
        await stop_bot(client, task)
    assert twitch.sent[0].text == "\u200b/ban streamer"


async def test_a_session_reconnect_loses_and_doubles_nothing(twitch: FakeTwitch) -> None:
    client, task = await run_bot(twitch, ScriptedInference(["Before."], ["After."]))
    try:
        before = await twitch.chat("!ask one?", user_id="1", login="one")
        await until(lambda: len(twitch.sent) == 1)
        await twitch.reconnect()  # Twitch moves the bot to another edge
        after = await twitch.chat("!ask two?", user_id="2", login="two")
        await until(lambda: len(twitch.sent) == 2)
    finally:
        await stop_bot(client, task)
    assert [(s.text, s.reply_to) for s in twitch.sent] == [("Before.", before), ("After.", after)]
    assert twitch.connections == 2


@pytest.mark.slow  # twitchio notices a silent session after 10 s plus 5 s of grace
async def test_a_missed_keepalive_reconnects_and_resubscribes(twitch: FakeTwitch) -> None:
    client, task = await run_bot(twitch, ScriptedInference(["Still here."]))
    try:
        subscribed = len(twitch.subscriptions)
        twitch.keepalives_paused = True  # Twitch goes quiet without closing
        await until(lambda: twitch.connections == 2, 60)
        twitch.keepalives_paused = False
        await until(lambda: len(twitch.subscriptions) > subscribed, 30)  # a new session
        asked = await twitch.chat("!ask are you there?")
        await until(lambda: bool(twitch.sent))
    finally:
        await stop_bot(client, task)
    assert [(s.text, s.reply_to) for s in twitch.sent] == [("Still here.", asked)]
