"""The IRC bot (pydle) against a real InspIRCd on loopback, with people on IRC played by
raw-socket peers: replies, IRCv3 reply tags, splitting, flood control, operators as
moderators, reconnecting, and a polite line when the model server is down."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from bots.irc.client import LiteraiIrc
from bots.irc.settings import IrcSettings
from bots.outbox import Outbox
from bots.split import split_message
from literai_core.chat import ChannelKey
from literai_core.core import ChatCore
from literai_core.inference import Inference, OpenAIInference
from literai_core.settings import BotSettings

from .kit.clock import FakeClock
from .kit.ircd import Ircd, IrcPeer, start_ircd
from .kit.scripted import ScriptedInference, prose
from .kit.server import API_KEY, LITERAI, ROOT, Server, write_config
from .kit.waiting import until

pytestmark = pytest.mark.slow  # a real InspIRCd for every test


# A long reply in a script without spaces, sentences that do not repeat (the guard cuts
# repeats): ~330 characters, ~1,000 bytes.
JAPANESE = (
    "テレタイプは一行ずつ紙に文字を打ちます。"
    "行の終わりには小さなベルが鳴ります。"
    "昔の新聞社では、電報がこの機械で届きました。"
    "紙テープに穴を開けて、同じ文章を何度も送ることができました。"
    "キーボードはとても重く、指が疲れると言う人もいました。"
    "今でも博物館で動いている機械を見ることができます。"
    "愛好家たちは古い部品を探して、自分で修理しています。"
    "インターネットにつなげて、チャットを印刷する人もいます。"
    "速度は一秒に十文字ほどで、ゆっくりと読むのにちょうどいいです。"
    "音はうるさいですが、その音が好きだというファンも多いです。"
    "最初のコンピューター端末として使われた歴史もあります。"
    "小文字がなく、すべて大文字で印刷されるのが特徴です。"
    "配信では、視聴者のコメントが紙に打ち出されていきます。"
    "最後に、紙を切り取って記念に持ち帰ることもできます。"
)

CHANNEL = "#teletype"
# Long replies, to test splitting by bytes and pacing: no cap on an answer's sentences.
LONG = {"max_reply_chars": 2000, "ask": {"max_sentences": 0}}
BOT = BotSettings(user_cooldown_s=0, channel_cooldown_s=0, **LONG)  # type: ignore[arg-type]


async def start_bot(
    server: Ircd, inference: Inference, *, clock: FakeClock | None = None, **settings: Any
) -> tuple[LiteraiIrc, asyncio.Task[None]]:
    values: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "tls": False,
        "nick": "literai",
        "channels": [CHANNEL],
        "reconnect_delays_s": [0.5],
    }
    values.update(settings)
    timing: dict[str, Any] = {} if clock is None else {"clock": clock, "sleep": clock.sleep}
    bot = LiteraiIrc(
        ChatCore(BOT, inference), IrcSettings(**values), password=server.password, **timing
    )
    task = asyncio.create_task(bot.run())
    await asyncio.wait_for(bot.ready.wait(), 30)
    return bot, task


async def stop_bot(bot: LiteraiIrc, task: asyncio.Task[None]) -> None:
    await bot.close()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def op(ircd: Ircd) -> AsyncIterator[IrcPeer]:
    """The first to join gets operator status: a moderator."""
    peer = IrcPeer(ircd, "chanop")
    await peer.connect()
    await peer.join(CHANNEL)
    yield peer
    await peer.close()


async def test_ask_is_answered_by_the_real_model_as_a_tagged_reply(
    ircd: Ircd,
    op: IrcPeer,
    server: Server,
) -> None:
    async with openai.AsyncOpenAI(base_url=server.v1, api_key=API_KEY, max_retries=0) as api:
        bot, task = await start_bot(ircd, OpenAIInference(api, "smollm2"))
        try:
            await op.say(CHANNEL, "!ask what is a teletype?")
            reply = await op.wait_for(lambda ln: ln.command == "PRIVMSG" and ln.nick == "literai")
        finally:
            await stop_bot(bot, task)
    assert reply.params[0] == CHANNEL and reply.params[1].strip()
    assert "msgid" in reply.tags and "time" in reply.tags  # IRCv3 from the server
    assert reply.tags.get("+draft/reply")  # threaded to the question


async def test_long_replies_are_split_to_lines_and_paced(ircd: Ircd, op: IrcPeer) -> None:
    """Flood control on the bot's own clock: time passes only when the test moves it,
    so each line's send time is exact and nothing waits for real time."""
    long = prose(14)  # ~900 characters that do not repeat (the guard cuts repeats)
    expected = split_message(" ".join(long.split()), 200)
    clock = FakeClock()
    bot, task = await start_bot(
        ircd,
        ScriptedInference([long]),
        clock=clock,
        messages_per_window=2,
        window_s=1.5,
        max_line_chars=200,
    )
    sent_at: list[float] = []  # the clock's time when each line went out
    try:
        await op.say(CHANNEL, "!ask tell me everything")
        box = await _outbox(bot)
        while len(sent_at) < len(expected):
            # Sent so far: all arrived, and the pacer waits for the window (or is done).
            await until(
                lambda: (
                    len(_from_bot(op)) == box.sent
                    and (bool(clock.sleeping) or box.sent == len(expected))
                )
            )
            sent_at += [clock.now] * (box.sent - len(sent_at))
            if clock.sleeping:
                assert clock.sleeping[0] - clock.now <= 1.5
                clock.advance_to(clock.sleeping[0])
    finally:
        await stop_bot(bot, task)
    lines = [ln.params[1] for ln in _from_bot(op)]
    assert lines == expected and all(len(x) <= 200 for x in lines)
    # Flood control: never more than 2 lines in any 1.5 s, and no longer wait than that.
    assert all(sent_at[i + 2] - sent_at[i] >= 1.5 for i in range(len(sent_at) - 2)), sent_at
    assert sent_at == [1000.0 + 1.5 * (i // 2) for i in range(len(expected))], sent_at


async def _outbox(bot: LiteraiIrc) -> Outbox[str | None]:
    await until(lambda: CHANNEL in bot.outboxes)
    return bot.outboxes[CHANNEL]


async def test_operators_are_moderators_and_others_are_not(ircd: Ircd, op: IrcPeer) -> None:
    viewer = IrcPeer(ircd, "viewer")
    await viewer.connect()
    await viewer.join(CHANNEL)
    bot, task = await start_bot(ircd, ScriptedInference())
    try:
        await viewer.say(CHANNEL, "!clear")
        await op.wait_for(lambda ln: "Only moderators" in " ".join(ln.params))
        await op.say(CHANNEL, "!clear")
        await op.wait_for(lambda ln: "forgotten" in " ".join(ln.params), 5)
    finally:
        await stop_bot(bot, task)
        await viewer.close()


async def test_a_down_model_server_gets_a_polite_line(ircd: Ircd, op: IrcPeer) -> None:
    async with openai.AsyncOpenAI(
        base_url="http://127.0.0.1:9/v1", api_key="x", max_retries=0
    ) as api:
        bot, task = await start_bot(ircd, OpenAIInference(api, "smollm2"))
        try:
            await op.say(CHANNEL, "!ask anyone home?")
            line = await op.wait_for(lambda ln: bool(_from_bot(op)))
            await op.say(CHANNEL, "!help")
            await op.wait_for(lambda ln: len(_from_bot(op)) >= 2)
        finally:
            await stop_bot(bot, task)
    said = [ln.params[1] for ln in _from_bot(op)]
    assert "the model server is unreachable" in said[0], line
    assert said[1].startswith("Commands: !ask")


async def test_the_bot_reconnects_after_the_server_restarts_and_keeps_its_window(
    tmp_path: Any,
) -> None:
    first = start_ircd(tmp_path / "a")
    inference = ScriptedInference(["It clatters."])
    bot, task = await start_bot(first, inference)
    try:
        peer = IrcPeer(first, "regular")
        await peer.connect()
        await peer.join(CHANNEL)
        await peer.say(CHANNEL, "the teletype is warming up")
        await until(lambda: bool(bot.core.windows.lines(ChannelKey("irc", CHANNEL))))
        first.stop()  # the network goes away
        await peer.close()
        second = start_ircd(tmp_path / "b", port=first.port)  # and comes back
        try:
            await asyncio.wait_for(_reconnected(bot), 30)
            peer = IrcPeer(second, "regular")
            await peer.connect()
            await peer.join(CHANNEL)
            await peer.say(CHANNEL, "!ask what was warming up?")
            await peer.wait_for(lambda ln: bool(_from_bot(peer)))
            await peer.close()
        finally:
            second.stop()
    finally:
        await stop_bot(bot, task)
    assert bot.connects == 2
    (call,) = inference.calls
    assert any("the teletype is warming up" in m["content"] for m in call.messages or [])


async def _reconnected(bot: LiteraiIrc) -> None:
    await until(lambda: bot.connects >= 2)  # a counter, not an event
    await bot.ready.wait()


def _from_bot(peer: IrcPeer) -> list[Any]:
    return [ln for ln in peer.privmsgs(CHANNEL) if ln.nick == "literai"]


async def test_literai_run_joins_irc_with_its_password_from_the_environment(
    ircd: Ircd,
    op: IrcPeer,
    server: Server,
    tmp_path: Any,
) -> None:
    config = write_config(
        tmp_path,
        console={"enabled": False},
        client={"base_url": server.v1, "api_key_env": "LITERAI_TEST_KEY"},
        irc={
            "enabled": True,
            "host": ircd.host,
            "port": ircd.port,
            "tls": False,
            "channels": [CHANNEL],
            "password_env": "LITERAI_TEST_IRC_PASSWORD",
        },
        log_level="debug",  # pydle logs every raw line at debug, PASS included
    )
    env = {**os.environ, "LITERAI_TEST_IRC_PASSWORD": ircd.password, "LITERAI_TEST_KEY": API_KEY}
    proc = await asyncio.create_subprocess_exec(
        *LITERAI, "run", "--config", str(config), cwd=ROOT, env=env,
        stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await op.wait_for(lambda ln: ln.command == "JOIN" and ln.nick == "literai", 60)
        await op.say(CHANNEL, "!help")
        await op.wait_for(lambda ln: bool(_from_bot(op)))
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert _from_bot(op)[0].params[1].startswith("Commands: !ask")
    assert proc.returncode == 0, err
    assert ircd.password not in err.decode() and "PASS ***" in err.decode()
    # Stopped, the bot says goodbye: the channel sees it quit, not time out.
    await op.wait_for(lambda ln: ln.command == "QUIT" and ln.nick == "literai", 10)


async def test_replies_are_text_never_ctcp_and_fit_512_bytes_losing_nothing(
    ircd: Ircd, op: IrcPeer
) -> None:
    japanese = JAPANESE  # 3 bytes a character, no spaces
    inference = ScriptedInference(["\x01ACTION waves\x01 \x02bold\x02"], [japanese])
    bot, task = await start_bot(ircd, inference)
    try:
        await op.say(CHANNEL, "!ask \x01ACTION waves\x01")
        await until(lambda: bool(_from_bot(op)))
        await op.say(CHANNEL, "!ask say it in Japanese")
        await until(lambda: "".join(ln.params[1] for ln in _from_bot(op)[1:]) == japanese)
    finally:
        await stop_bot(bot, task)
    first, *rest = _from_bot(op)
    assert first.params[1] == "ACTION waves bold"  # text, not a CTCP ACTION
    assert all("\x01" not in ln.raw for ln in _from_bot(op))
    assert len(rest) > 1 and all(len(ln.raw.encode()) + 2 <= 512 for ln in rest)


async def test_no_irc_line_carries_a_blocked_word(ircd: Ircd, op: IrcPeer) -> None:
    """The content filter on IRC: a word the model splits across pieces is masked."""
    inference = ScriptedInference(["Well, ", "that was fu", "cking great. ", "Bye."])
    bot, task = await start_bot(ircd, inference)
    try:
        await op.say(CHANNEL, "!ask how was it?")
        await until(lambda: bool(_from_bot(op)))
    finally:
        await stop_bot(bot, task)
    said = " ".join(ln.params[1] for ln in _from_bot(op))
    assert said == "Well, that was ******* great. Bye."
    assert all("fuck" not in ln.raw.lower() for ln in _from_bot(op))
