"""The stream's events with the real twitchio 3 against the fake Twitch: subscriptions
made with the right token, events thanked (a gift-sub storm in one line), and
channel-point redemptions fulfilled or cancelled through Helix by outcome."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bots.twitch.settings import Credentials

from .kit.clock import FakeClock
from .kit.fake_twitch import (
    BOT_ID,
    BOT_REFRESH,
    BOT_TOKEN,
    BROADCASTER_ID,
    BROADCASTER_REFRESH,
    BROADCASTER_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
)
from .kit.fake_twitch_events import FakeTwitchStream
from .kit.scripted import MADE, ScriptedInference
from .kit.twitch_helpers import pointed, run_bot, stop_bot
from .kit.waiting import until

OWNER = Credentials(
    CLIENT_ID, CLIENT_SECRET, BOT_TOKEN, BOT_REFRESH, BROADCASTER_TOKEN, BROADCASTER_REFRESH
)
ON = {"mode": "template"}
EVENTS = {"follow": ON, "raid": ON, "sub": ON, "gift": ON, "cheer": ON, "gather_s": 3}


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTwitchStream]:
    fake = await pointed(FakeTwitchStream(), monkeypatch)
    yield fake
    await fake.stop()


def _subs(fake: FakeTwitchStream) -> dict[str, dict[str, Any]]:
    return {sub["type"]: sub for sub in fake.subscriptions}


async def test_events_are_subscribed_with_the_right_token_and_thanked(
    fake: FakeTwitchStream,
) -> None:
    clock = FakeClock()
    client, task = await run_bot(
        fake, ScriptedInference(), credentials=OWNER, clock=clock, events=EVENTS
    )
    try:
        await until(lambda: len(fake.subscriptions) == 6)
        subs = _subs(fake)
        chat = subs.pop("channel.chat.message")["transport"]["session_id"]
        assert subs["channel.follow"]["condition"] == {
            "broadcaster_user_id": BROADCASTER_ID,
            "moderator_user_id": BROADCASTER_ID,  # the broadcaster's token reads follows
        }
        assert subs["channel.raid"]["condition"]["to_broadcaster_user_id"] == BROADCASTER_ID
        # The broadcaster's subscriptions live on the broadcaster's own socket.
        assert all(s["transport"]["session_id"] != chat for s in subs.values())
        assert "channel.subscription.message" not in subs  # resubs are off

        await fake.event("channel.follow", user_name="ana")
        await until(lambda: bool(clock.sleeping))
        clock.advance(3)
        await until(lambda: len(fake.sent) == 1)
        assert fake.sent[0].text == "Welcome, ana!" and fake.sent[0].sender_id == BOT_ID

        # A gift storm: three gifters, then Twitch's sub event for each gifted sub.
        await fake.event("channel.subscription.gift", user_name="bo", total=5)
        await fake.event("channel.subscription.gift", user_name="cy", total=1)
        await fake.event("channel.subscription.gift", is_anonymous=True, total=2,
                         user_id=None, user_login=None, user_name=None)  # fmt: skip
        for n in range(8):
            await fake.event("channel.subscribe", user_name=f"lucky{n}", is_gift=True)
        await fake.event("channel.raid", from_broadcaster_user_name="dee", viewers=42)
        await fake.event("channel.cheer", user_name="eve", bits=250)
        await until(lambda: len(clock.sleeping) == 3)
        clock.advance(3)
        await until(lambda: len(fake.sent) == 4)
    finally:
        await stop_bot(client, task)
    assert sorted(s.text for s in fake.sent[1:]) == [
        "Thanks for the 250 bits, eve!",
        "Thanks for the 8 gift subs, bo, cy and an anonymous viewer!",
        "Welcome, raiders! Thanks for the raid, dee.",
    ]  # and no "thanks for subscribing" for each gifted sub


async def test_redemptions_are_fulfilled_when_they_worked_and_cancelled_otherwise(
    fake: FakeTwitchStream, caplog: pytest.LogCaptureFixture
) -> None:
    answer = "A teletype is a typewriter that sends and prints messages over a wire."
    inference = ScriptedInference((answer,), MADE, (answer,))
    rewards = {"Ask the bot": "ask", "TTS message": "say"}
    client, task = await run_bot(
        fake, inference, credentials=OWNER, overlay=True, redemptions=rewards
    )
    try:
        await until(lambda: len(fake.subscriptions) == 2)
        asked = await fake.redeem("Ask the bot", "what is a teletype?")
        await until(lambda: len(fake.updates) == 1)
        assert fake.updates[-1] == {"id": asked, "reward_id": fake.updates[-1]["reward_id"],
                                    "status": "FULFILLED"}  # fmt: skip
        assert fake.sent[-1].text == answer

        empty = await fake.redeem("ASK THE BOT", "")  # titles match in any case
        await until(lambda: len(fake.updates) == 2)
        assert fake.updates[-1]["id"] == empty and fake.updates[-1]["status"] == "CANCELED"
        assert fake.sent[-1].text.startswith("Usage: !ask")  # the viewer is told why

        spoken = await fake.redeem("TTS message", "hello chat")
        await until(lambda: len(fake.updates) == 3)
        assert fake.updates[-1]["id"] == spoken and fake.updates[-1]["status"] == "FULFILLED"
        assert inference.calls[-1].kind == "speech" and inference.calls[-1].prompt == "hello chat"

        await fake.redeem("Hydrate", "water")  # not ours: left for whoever handles it
        fake.foreign_rewards.add("made-by-another-app")
        await fake.redeem("Ask the bot", "again?", reward="made-by-another-app")
        await until(lambda: client.redeemed["failed"] == 1)
    finally:
        await stop_bot(client, task)
    assert len(fake.updates) == 3
    assert client.redeemed == {"fulfilled": 2, "cancelled": 1, "failed": 1}
    assert "an app may only update rewards it created" in caplog.text


async def test_speech_with_the_overlay_off_is_cancelled_and_the_points_go_back(
    fake: FakeTwitchStream,
) -> None:
    rewards = {"TTS message": "say"}
    client, task = await run_bot(
        fake, ScriptedInference(MADE), credentials=OWNER, redemptions=rewards
    )
    try:
        await until(lambda: len(fake.subscriptions) == 2)
        rid = await fake.redeem("TTS message", "hello chat")
        await until(lambda: len(fake.updates) == 1)
    finally:
        await stop_bot(client, task)
    assert fake.updates == [{"id": rid, "reward_id": fake.updates[0]["reward_id"],
                             "status": "CANCELED"}]  # fmt: skip


async def test_a_refused_or_unauthorised_subscription_is_one_warning_and_chat_goes_on(
    fake: FakeTwitchStream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    fake.refused_types = {"channel.follow"}  # the bot's token lacks the scope
    inference = ScriptedInference(("Still here and answering.",))
    events = {"follow": ON, "cheer": ON}
    client, task = await run_bot(fake, inference, events=events)  # no broadcaster token
    try:
        asked = await fake.chat("!ask are you there?")
        await until(lambda: bool(fake.sent))
    finally:
        await stop_bot(client, task)
    assert [s["type"] for s in fake.subscriptions] == ["channel.chat.message"]
    assert fake.sent[0].reply_to == asked
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (
        "twitch: Twitch refused follow events in streamer (403; the token needs "
        "moderator:read:followers)" in warnings
    )
    assert (
        "twitch: cheer in streamer need that broadcaster's own token "
        "(TWITCH_BROADCASTER_TOKEN)" in warnings
    )
