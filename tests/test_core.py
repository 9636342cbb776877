"""Unit tests for the chat core: windows, limits, trimming, routing and ChatCore end to
end against a scripted fake of the ``Inference`` port. Time is always a parameter
(``ChatLine.time`` / ``now``); nothing here sleeps or talks to a model."""

from __future__ import annotations

import asyncio
import copy
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from literai_core.chat import ChannelKey, ChatLine, Reply, ReplyKind
from literai_core.commands import default_components
from literai_core.commands.chat import ChatCommands
from literai_core.commands.help import HelpCommands
from literai_core.commands.summary import Recap
from literai_core.core import ChatCore
from literai_core.inference import Generation, InferenceError
from literai_core.limits import ChannelQueues, Cooldown, Notices
from literai_core.router import CommandRouter, Component, Context, command
from literai_core.settings import BotSettings, GenerationSettings
from literai_core.trim import trim_reply
from literai_core.window import RollingWindows

from .waiting import until

# --------------------------------------------------------------------------- the fake

# One scripted answer: an exception raised before any text, or a sequence of text
# pieces in which an exception, where it appears, is raised after the pieces before it.
Answer = BaseException | Sequence[str | BaseException]

UNREACHABLE = "the model server is unreachable"


@dataclass
class Call:
    """What the model was asked, and how much of the answer the caller read."""

    kind: str  # "chat" or "completion"
    gen: Generation
    user: str | None
    messages: list[dict[str, str]] | None = None
    prompt: str | None = None
    pulled: int = 0  # text pieces handed out
    closed: bool = False  # the caller closed the stream (or it ran out)


class ScriptedInference:
    """A fake ``Inference``: replays queued answers in order and records each call.

    Like a real streaming client, a call is made (and recorded) when its stream is first
    read, not when the async generator is created.
    """

    def __init__(self, *answers: Answer) -> None:
        self.answers: deque[Answer] = deque(answers)
        self.calls: list[Call] = []

    def queue(self, *answers: Answer) -> None:
        self.answers.extend(answers)

    async def stream_chat(
        self, messages: list[dict[str, str]], gen: Generation, *, user: str | None = None
    ) -> AsyncIterator[str]:
        call = Call("chat", gen, user, messages=copy.deepcopy(messages))
        async with aclosing(self._replay(call)) as pieces:
            async for piece in pieces:
                yield piece

    async def stream_completion(
        self, prompt: str, gen: Generation, *, user: str | None = None
    ) -> AsyncIterator[str]:
        call = Call("completion", gen, user, prompt=prompt)
        async with aclosing(self._replay(call)) as pieces:
            async for piece in pieces:
                yield piece

    async def speech(self, text: str, *, voice: str, model: str) -> bytes:
        self.calls.append(Call("speech", Generation(max_tokens=0), None, prompt=text))
        if not self.answers:
            raise AssertionError(f"unexpected speech call: {text!r}")
        answer = self.answers.popleft()
        if isinstance(answer, BaseException):
            raise answer
        return "".join(str(a) for a in answer).encode()

    async def image(self, prompt: str, *, size: str) -> bytes:
        return await self.speech(prompt, voice="", model=size)

    async def _replay(self, call: Call) -> AsyncIterator[str]:
        self.calls.append(call)
        if not self.answers:
            raise AssertionError(f"unexpected model call: {call}")
        answer = self.answers.popleft()
        try:
            if isinstance(answer, BaseException):
                raise answer
            for item in answer:
                if isinstance(item, BaseException):
                    raise item
                call.pulled += 1
                yield item
        finally:
            call.closed = True


# --------------------------------------------------------------------------- helpers

PERSONA = "You are testbot, terse and kind."
GPT2_GEN = GenerationSettings(max_tokens=33, temperature=0.5, top_p=0.9, frequency_penalty=0.1)
ASK_GEN = GenerationSettings(max_tokens=77, temperature=0.2, top_p=0.8, frequency_penalty=0.0)


def bot_settings(**overrides: Any) -> BotSettings:
    values: dict[str, Any] = {
        "name": "literai",
        "prefix": "!",
        "persona": PERSONA,
        "window_lines": 5,
        "window_chars": 2000,
        "max_channels": 100,
        "max_reply_chars": 200,
        "max_prompt_chars": 100,
        "user_cooldown_s": 10,
        "channel_cooldown_s": 0,
        "channel_queue": 3,
        "answer_unknown_commands": True,
        "gpt2": GPT2_GEN,
        "ask": ASK_GEN,
    }
    values.update(overrides)
    return BotSettings(**values)


def make_core(
    inference: ScriptedInference,
    *,
    components: list[Component] | None = None,
    observers: list[Callable[[Reply], None]] | None = None,
    **overrides: Any,
) -> ChatCore:
    return ChatCore(bot_settings(**overrides), inference, components, observers=observers or [])


def component_of(core: ChatCore, command_name: str) -> Any:
    """The component object that registered ``command_name``."""
    cmd = core.router.get(command_name)
    assert cmd is not None
    return cmd.handler.__self__  # type: ignore[attr-defined]


def line(
    text: str,
    *,
    user: str = "alice",
    time: float = 0.0,
    channel: str = "#main",
    platform: str = "twitch",
) -> ChatLine:
    return ChatLine(platform, channel, user, text, time)


async def consume(reply: Reply | None) -> tuple[list[str], str]:
    """Read a reply the way a streaming adapter does: deltas, then the final text."""
    assert reply is not None
    deltas = [piece async for piece in reply.deltas()]
    return deltas, await reply.text()


async def text_of(reply: Reply | None) -> str:
    assert reply is not None
    return await reply.text()


def window_texts(core_or_windows: ChatCore | RollingWindows, key: ChannelKey) -> list[str]:
    windows = core_or_windows.windows if isinstance(core_or_windows, ChatCore) else core_or_windows
    return [f"{ln.user}: {ln.text}" for ln in windows.lines(key)]


MAIN = ChannelKey("twitch", "#main")


# --------------------------------------------------------------------------- RollingWindows


def wl(text: str, user: str = "u", channel: str = "#c", platform: str = "p") -> ChatLine:
    return ChatLine(platform, channel, user, text, 0.0)


def test_window_keeps_the_last_n_lines() -> None:
    windows = RollingWindows(max_lines=3, max_chars=10_000)
    for i in range(1, 6):
        windows.add(wl(f"line {i}"))
    assert [ln.text for ln in windows.lines(ChannelKey("p", "#c"))] == [
        "line 3",
        "line 4",
        "line 5",
    ]


def test_window_drops_oldest_lines_by_char_budget() -> None:
    # Each line costs len(user) + len(text) + 2 = 1 + 40 + 2 = 43 characters.
    windows = RollingWindows(max_lines=10, max_chars=100)
    for ch in "abc":
        windows.add(wl(ch * 40))
    texts = [ln.text for ln in windows.lines(ChannelKey("p", "#c"))]
    assert texts == ["b" * 40, "c" * 40]
    windows.add(wl("short"))  # 8 more: 94 in all, still within the budget
    texts = [ln.text for ln in windows.lines(ChannelKey("p", "#c"))]
    assert texts == ["b" * 40, "c" * 40, "short"]
    windows.add(wl("d" * 20))  # 23 more: 117, so the oldest goes
    texts = [ln.text for ln in windows.lines(ChannelKey("p", "#c"))]
    assert texts == ["c" * 40, "short", "d" * 20]


def test_window_channels_are_separate_even_with_the_same_name() -> None:
    windows = RollingWindows()
    windows.add(wl("on twitch", channel="#main", platform="twitch"))
    windows.add(wl("on discord", channel="#main", platform="discord"))
    windows.add(wl("elsewhere", channel="#other", platform="twitch"))
    assert [ln.text for ln in windows.lines(ChannelKey("twitch", "#main"))] == ["on twitch"]
    assert [ln.text for ln in windows.lines(ChannelKey("discord", "#main"))] == ["on discord"]
    assert [ln.text for ln in windows.lines(ChannelKey("twitch", "#other"))] == ["elsewhere"]
    assert windows.lines(ChannelKey("discord", "#other")) == []
    assert len(windows) == 3


def test_window_count_is_bounded_least_recently_used_first() -> None:
    windows = RollingWindows(max_channels=2)
    windows.add(wl("a1", channel="a"))
    windows.add(wl("b1", channel="b"))
    windows.add(wl("a2", channel="a"))  # "a" is now the most recently used
    windows.add(wl("c1", channel="c"))  # evicts "b"
    assert len(windows) == 2
    assert windows.lines(ChannelKey("p", "b")) == []
    assert [ln.text for ln in windows.lines(ChannelKey("p", "a"))] == ["a1", "a2"]
    assert [ln.text for ln in windows.lines(ChannelKey("p", "c"))] == ["c1"]
    for i in range(50):
        windows.add(wl("x", channel=f"many{i}"))
    assert len(windows) == 2


def test_window_clear_forgets_only_that_channel() -> None:
    windows = RollingWindows()
    windows.add(wl("a", channel="a"))
    windows.add(wl("b", channel="b"))
    windows.clear(ChannelKey("p", "a"))
    windows.clear(ChannelKey("p", "never-seen"))  # no error
    assert windows.lines(ChannelKey("p", "a")) == []
    assert [ln.text for ln in windows.lines(ChannelKey("p", "b"))] == ["b"]
    assert len(windows) == 1
    windows.add(wl("again", channel="a"))
    assert [ln.text for ln in windows.lines(ChannelKey("p", "a"))] == ["again"]


def test_window_lines_is_a_copy() -> None:
    windows = RollingWindows()
    windows.add(wl("kept"))
    windows.lines(ChannelKey("p", "#c")).clear()
    assert [ln.text for ln in windows.lines(ChannelKey("p", "#c"))] == ["kept"]


def test_window_truncates_a_line_longer_than_the_budget() -> None:
    windows = RollingWindows(max_lines=5, max_chars=100)
    windows.add(wl("y" * 500))
    for ln in windows.lines(ChannelKey("p", "#c")):
        assert len(ln.text) <= 100


def test_window_keeps_the_newest_line_even_when_it_alone_fills_the_budget() -> None:
    windows = RollingWindows(max_lines=5, max_chars=100)
    windows.add(wl("earlier"))
    windows.add(wl("z" * 150, user="bob"))
    lines = windows.lines(ChannelKey("p", "#c"))
    assert lines, "the newest line (truncated) should stay in the window"
    assert lines[-1].user == "bob"
    assert lines[-1].text.startswith("zzz")


# --------------------------------------------------------------------------- Cooldown


def test_cooldown_hit_and_retry_after() -> None:
    cd = Cooldown(10)
    assert cd.retry_after("k", 100.0) is None
    assert cd.hit("k", 100.0) is None  # allowed; the cooldown starts now
    assert cd.retry_after("k", 103.0) == pytest.approx(7.0)
    assert cd.hit("k", 103.0) == pytest.approx(7.0)  # refused; does not restart it
    assert cd.retry_after("k", 109.5) == pytest.approx(0.5)
    assert cd.retry_after("k", 110.0) is None
    assert cd.hit("k", 110.0) is None
    assert cd.retry_after("k", 115.0) == pytest.approx(5.0)


def test_cooldown_keys_are_independent() -> None:
    cd = Cooldown(10)
    assert cd.hit("a", 0.0) is None
    assert cd.hit("b", 1.0) is None
    assert cd.hit("a", 2.0) == pytest.approx(8.0)
    assert cd.retry_after(("x", "y"), 2.0) is None


def test_cooldown_of_zero_seconds_never_blocks() -> None:
    cd = Cooldown(0)
    assert cd.hit("k", 5.0) is None
    assert cd.hit("k", 5.0) is None


def test_cooldown_key_count_is_bounded() -> None:
    cd = Cooldown(100, max_keys=2)
    for key in "abc":
        assert cd.hit(key, 0.0) is None
    assert cd.retry_after("a", 1.0) is None  # evicted, oldest first
    assert cd.retry_after("b", 1.0) == pytest.approx(99.0)
    assert cd.retry_after("c", 1.0) == pytest.approx(99.0)


def test_notices_once_per_quiet_period() -> None:
    notices = Notices(max_keys=10)
    assert notices.allow("k", 1.0, 9.0) is True
    assert notices.allow("k", 2.0, 9.0) is False
    assert notices.allow("k", 9.9, 9.0) is False
    assert notices.allow("k", 10.0, 9.0) is True  # the quiet period is over
    assert notices.allow("k", 12.0, 9.0) is False
    # Other keys have their own notices; a zero quiet period always allows.
    assert notices.allow("other", 12.5, 9.0) is True
    assert notices.allow("z", 1.0, 0.0) is True
    assert notices.allow("z", 1.0, 0.0) is True


def test_notices_key_count_is_bounded() -> None:
    notices = Notices(max_keys=2)
    for key in "abc":
        assert notices.allow(key, 0.0, 100.0)
    assert notices.allow("a", 1.0, 100.0) is True  # evicted, oldest first
    assert notices.allow("c", 1.0, 100.0) is False


# --------------------------------------------------------------------------- ChannelQueues


def test_channel_queue_limit_and_leave() -> None:
    queues = ChannelQueues(limit=2)
    assert queues.try_enter("a") is True
    assert queues.try_enter("a") is True
    assert queues.try_enter("a") is False
    assert queues.pending("a") == 2
    assert queues.try_enter("b") is True  # other channels are not affected
    queues.leave("a")
    assert queues.pending("a") == 1
    assert queues.try_enter("a") is True
    assert queues.try_enter("a") is False


def test_channel_queue_leave_never_goes_negative() -> None:
    queues = ChannelQueues(limit=1)
    queues.leave("a")
    queues.leave("a")
    assert queues.pending("a") == 0
    assert queues.try_enter("a") is True
    assert queues.try_enter("a") is False


# --------------------------------------------------------------------------- trim_reply


def test_trim_short_text_only_collapses_whitespace() -> None:
    assert trim_reply("  Hello\n\n  there,\tfriend.  ", 100) == "Hello there, friend."


def test_trim_cuts_at_the_last_sentence_end_within_the_limit() -> None:
    text = "First one. Second one! Third one is much longer than the limit allows."
    assert trim_reply(text, 30) == "First one. Second one!"
    assert trim_reply(text, 15) == "First one."


def test_trim_sentence_end_may_include_closing_quotes() -> None:
    text = 'She said "go away." And then she kept talking for a long while.'
    assert trim_reply(text, 30) == 'She said "go away."'


def test_trim_falls_back_to_a_word_boundary_with_an_ellipsis() -> None:
    assert trim_reply("alpha beta gamma delta epsilon", 15) == "alpha beta…"
    assert trim_reply("one two, three four five", 10) == "one two…"


def test_trim_ignores_a_sentence_end_too_early_in_the_text() -> None:
    text = "Hi. this sentence goes on and on without ever stopping at all"
    out = trim_reply(text, 30)
    assert out.endswith("…")
    assert out.startswith("Hi. this sentence")


def test_trim_cuts_a_single_long_word() -> None:
    assert trim_reply("x" * 50, 10) == "x" * 9 + "…"


def test_trim_never_exceeds_max_chars() -> None:
    texts = [
        "A. B. C. D. E. F. G. H.",
        "word " * 100,
        "longwordwithoutspaces" * 20,
        "Mixed! sentences? and, commas; everywhere: ok... fine",
        "  lots   of \n\n whitespace \t here " * 10,
        'Ends with quote." Then (more in parens.) and more',
    ]
    for text in texts:
        for limit in range(1, 120):
            out = trim_reply(text, limit)
            assert len(out) <= limit, (text, limit, out)
            assert "  " not in out and "\n" not in out


def test_trim_does_not_take_a_decimal_point_at_the_cut_for_a_sentence_end() -> None:
    out = trim_reply("Pi is about 3.14159 which is a lot of digits", 14)
    assert "3." not in out


# --------------------------------------------------------------------------- CommandRouter


def test_router_parse() -> None:
    router = CommandRouter()
    assert router.parse("!Ask  what?") == ("ask", "what?")
    assert router.parse("!gpt2") == ("gpt2", "")
    assert router.parse("!help   ask  ") == ("help", "ask")
    assert router.parse("! hello") is None
    assert router.parse("!") is None
    assert router.parse("hello") is None
    assert router.parse("hello !ask x") is None


def test_router_parse_with_a_custom_prefix() -> None:
    router = CommandRouter("?")
    assert router.parse("?ASK why") == ("ask", "why")
    assert router.parse("!ask why") is None
    assert router.parse("? why") is None
    two = CommandRouter("~~")
    assert two.parse("~~gpt2 hi there") == ("gpt2", "hi there")
    assert two.parse("~gpt2 hi") is None


def test_router_usage_uses_the_configured_prefix() -> None:
    router = CommandRouter("?")
    router.add_component(ChatCommands())
    router.add_component(HelpCommands())
    ask = router.get("ask")
    assert ask is not None
    assert router.usage(ask) == "?ask <question>"
    help_cmd = router.get("help")
    assert help_cmd is not None
    assert router.usage(help_cmd) == "?help [command]"
    assert [c.name for c in router.all()] == ["ask", "gpt2", "help"]


def test_router_commands_come_from_docstrings() -> None:
    router = CommandRouter()
    router.add_component(ChatCommands())
    ask = router.get("ask")
    assert ask is not None
    assert ask.usage == "!ask <question>"
    assert ask.summary == "Ask the bot anything; it sees the last few lines of chat."
    assert ask.requires_args is True and ask.uses_model is True
    assert router.get("nope") is None


def test_router_rejects_duplicates_and_bad_names() -> None:
    router = CommandRouter()
    router.add_component(HelpCommands())
    with pytest.raises(ValueError, match="twice"):
        router.add_component(HelpCommands())
    with pytest.raises(ValueError):
        command("Bad Name")
    with pytest.raises(ValueError):
        command("1abc")


# --------------------------------------------------------------------------- Reply


async def test_plain_reply_text_and_deltas() -> None:
    reply = Reply(line("x"), ReplyKind.NOTICE, "hello there")
    assert reply.kind is ReplyKind.NOTICE
    assert await reply.text() == "hello there"
    assert [d async for d in reply.deltas()] == ["hello there"]
    empty = Reply(line("x"), ReplyKind.NOTICE, "")
    assert [d async for d in empty.deltas()] == []
    assert await empty.text() == ""


async def test_streaming_reply_yields_deltas_then_the_finished_text() -> None:
    async def produce(reply: Reply) -> AsyncIterator[str]:
        yield "Hel"
        yield "lo  "
        yield "world"
        reply.finish("Hello world.")

    reply = Reply.from_stream(line("x"), produce)
    assert reply.kind is ReplyKind.ANSWER
    deltas, text = await consume(reply)
    assert deltas == ["Hel", "lo  ", "world"]
    assert text == "Hello world."
    assert reply.kind is ReplyKind.ANSWER


async def test_streaming_reply_text_alone_drives_the_stream() -> None:
    produced: list[str] = []

    async def produce(reply: Reply) -> AsyncIterator[str]:
        for piece in ("a", "b"):
            produced.append(piece)
            yield piece
        reply.finish("ab", ReplyKind.NOTICE)

    reply = Reply.from_stream(line("x"), produce)
    assert produced == []  # nothing runs until the reply is read
    assert await reply.text() == "ab"
    assert produced == ["a", "b"]
    assert reply.kind is ReplyKind.NOTICE


# --------------------------------------------------------------------------- ChatCore


async def test_plain_chat_goes_into_the_window_and_gets_no_reply() -> None:
    inference = ScriptedInference()
    core = make_core(inference)
    assert await core.handle(line("hi all", user="alice")) is None
    assert await core.handle(line("hello alice", user="bob", time=1)) is None
    assert await core.handle(line("! not a command", user="carol", time=2)) is None
    assert window_texts(core, MAIN) == [
        "alice: hi all",
        "bob: hello alice",
        "carol: ! not a command",
    ]
    assert inference.calls == []


async def test_gpt2_continues_the_window_and_stops_at_the_first_newline() -> None:
    inference = ScriptedInference([" wor", "ld, how", " are you?", "\nbob: fine", " thanks"])
    core = make_core(inference)
    await core.handle(line("hi there", user="alice", time=0))
    await core.handle(line("how is everyone", user="bob", time=1))

    reply = await core.handle(line("!gpt2 hello", user="carol", time=2))
    assert reply is not None
    deltas, text = await consume(reply)

    assert text == "hello world, how are you?"
    assert "".join(deltas) == text
    assert deltas[0] == "hello"
    assert reply.kind is ReplyKind.ANSWER

    [call] = inference.calls
    assert call.kind == "completion"
    assert call.prompt == "alice: hi there\nbob: how is everyone\ncarol: hello"
    assert call.user == "carol"
    assert call.gen == Generation(max_tokens=33, temperature=0.5, top_p=0.9, frequency_penalty=0.1)
    # The stream was closed at the newline: the model was not read any further.
    assert call.pulled == 4
    assert call.closed
    # The bot's own line joins the window; the command line itself does not.
    assert window_texts(core, MAIN) == [
        "alice: hi there",
        "bob: how is everyone",
        "literai: hello world, how are you?",
    ]


async def test_gpt2_skips_leading_newlines_before_anything_is_said() -> None:
    inference = ScriptedInference(["\n", " world", "\nnext line"])
    core = make_core(inference)
    _, text = await consume(await core.handle(line("!gpt2 hello")))
    assert text == "hello world"


async def test_gpt2_stops_at_the_first_newline_after_text_within_one_piece() -> None:
    inference = ScriptedInference(["\n\n world\nnext line"])
    core = make_core(inference)
    _, text = await consume(await core.handle(line("!gpt2 hello")))
    assert text == "hello world"


async def test_gpt2_without_text_continues_the_chat() -> None:
    inference = ScriptedInference([" sounds good", "\nmore"])
    core = make_core(inference)
    await core.handle(line("pizza tonight?", user="bob"))
    reply = await core.handle(line("!gpt2", user="alice", time=1))
    _, text = await consume(reply)
    # No text of one's own: the transcript ends with a newline for the model to go on.
    assert inference.calls[0].prompt == "bob: pizza tonight?\n"
    assert text == "sounds good"


async def test_ask_sends_persona_window_and_question() -> None:
    inference = ScriptedInference(["Love is ", "a warm hug."], ["Yes, ", "pizza."])
    core = make_core(inference)
    await core.handle(line("hi", user="alice", time=0))
    await core.handle(line("what's up", user="bob", time=1))

    reply = await core.handle(line("!ask what is love?", user="carol", time=2))
    deltas, text = await consume(reply)
    assert text == "Love is a warm hug."
    assert "".join(deltas) == "Love is a warm hug."

    [call] = inference.calls
    assert call.kind == "chat"
    assert call.user == "carol"
    assert call.gen == Generation(max_tokens=77, temperature=0.2, top_p=0.8, frequency_penalty=0.0)
    assert call.messages is not None
    system, user = call.messages
    assert system == {"role": "system", "content": PERSONA}
    assert user["role"] == "user"
    content = user["content"]
    assert "!ask" not in content
    assert content.index("alice: hi") < content.index("bob: what's up")
    assert content.rstrip().endswith("carol asks: what is love?")

    # The bot's answer is part of the next prompt.
    reply = await core.handle(line("!ask and pizza?", user="dave", time=3))
    assert await text_of(reply) == "Yes, pizza."
    messages = inference.calls[1].messages
    assert messages is not None
    later = messages[1]["content"]
    assert "literai: Love is a warm hug." in later
    assert later.index("bob: what's up") < later.index("literai: Love is a warm hug.")
    assert later.rstrip().endswith("dave asks: and pizza?")


async def test_ask_with_an_empty_window_is_just_the_question() -> None:
    inference = ScriptedInference(["Sure."])
    core = make_core(inference)
    await text_of(await core.handle(line("!ask ok?", user="bob")))
    messages = inference.calls[0].messages
    assert messages is not None
    assert "alice" not in messages[1]["content"]
    assert messages[1]["content"].strip() == "bob asks: ok?"


async def test_the_prompt_sees_only_the_last_window_lines() -> None:
    inference = ScriptedInference(["ok."])
    core = make_core(inference, window_lines=2)
    for i in range(5):
        await core.handle(line(f"msg{i}", user="bob", time=i))
    await text_of(await core.handle(line("!ask q", time=9)))
    messages = inference.calls[0].messages
    assert messages is not None
    content = messages[1]["content"]
    assert "msg3" in content and "msg4" in content
    assert "msg2" not in content and "msg0" not in content


async def test_ask_without_arguments_gives_the_usage_line() -> None:
    inference = ScriptedInference(["Fine."])
    core = make_core(inference)
    reply = await core.handle(line("!ask"))
    assert reply is not None
    assert reply.kind is ReplyKind.NOTICE
    assert await reply.text() == "Usage: !ask <question>"
    assert inference.calls == []
    # No cooldown was charged for the usage notice.
    assert await text_of(await core.handle(line("!ask fine?"))) == "Fine."


async def test_usage_line_follows_a_custom_prefix() -> None:
    core = make_core(ScriptedInference(), prefix="?")
    reply = await core.handle(line("?ask   "))
    assert reply is not None and reply.kind is ReplyKind.NOTICE
    assert await reply.text() == "Usage: ?ask <question>"
    assert await core.handle(line("!ask something")) is None  # plain chat now
    assert window_texts(core, MAIN) == ["alice: !ask something"]


async def test_unknown_command_gets_one_notice() -> None:
    inference = ScriptedInference(["Works."])
    core = make_core(inference)
    reply = await core.handle(line("!nope", time=0))
    assert reply is not None
    assert reply.kind is ReplyKind.NOTICE
    text = await reply.text()
    assert "!nope" in text and "!help" in text
    assert await core.handle(line("!nope", time=0)) is None
    assert await core.handle(line("!other", time=0)) is None
    assert inference.calls == []
    assert core.windows.lines(MAIN) == []
    # Another user gets their own notice.
    bob = await core.handle(line("!nope", user="bob", time=0))
    assert bob is not None and bob.kind is ReplyKind.NOTICE
    # An unknown command does not start the model cooldown.
    assert await text_of(await core.handle(line("!ask real?", time=0))) == "Works."


async def test_unknown_command_notice_is_silent_while_its_cooldown_lasts() -> None:
    core = make_core(ScriptedInference(), user_cooldown_s=10)
    assert await core.handle(line("!nope", time=0)) is not None
    assert await core.handle(line("!nope", time=1)) is None
    assert await core.handle(line("!nope", time=5)) is None


async def test_unknown_commands_can_be_ignored() -> None:
    inference = ScriptedInference()
    core = make_core(inference, answer_unknown_commands=False)
    assert await core.handle(line("!nope")) is None
    assert await core.handle(line("!nope", time=100)) is None
    assert inference.calls == []


async def test_over_long_arguments_get_a_notice_naming_the_limit() -> None:
    inference = ScriptedInference(["Fine."])
    core = make_core(inference, max_prompt_chars=50)
    reply = await core.handle(line("!ask " + "x" * 51))
    assert reply is not None
    assert reply.kind is ReplyKind.NOTICE
    text = await reply.text()
    assert "50" in text and "51" in text
    assert inference.calls == []
    # Exactly at the limit is fine.
    assert await text_of(await core.handle(line("!ask " + "x" * 50))) == "Fine."


async def test_user_cooldown_gives_one_slow_down_notice_then_silence() -> None:
    inference = ScriptedInference(["One."], ["Other user."], ["Two."], ["Three."])
    core = make_core(inference, user_cooldown_s=10, channel_cooldown_s=0)
    assert await text_of(await core.handle(line("!ask one", time=0))) == "One."

    notice = await core.handle(line("!ask two", time=3))
    assert notice is not None
    assert notice.kind is ReplyKind.REFUSED
    text = await notice.text()
    assert "slow down" in text
    assert "@alice" in text
    assert "7 s" in text
    assert await core.handle(line("!ask two", time=4)) is None
    assert await core.handle(line("!gpt2 two", time=9.9)) is None
    assert len(inference.calls) == 1

    # Someone else is not slowed down by alice's cooldown.
    assert await text_of(await core.handle(line("!ask hi", user="bob", time=5))) == ("Other user.")

    # After the cooldown, alice can ask again, and a new period brings a new notice.
    assert await text_of(await core.handle(line("!ask two", time=10))) == "Two."
    again = await core.handle(line("!ask three", time=12))
    assert again is not None and again.kind is ReplyKind.REFUSED
    assert await core.handle(line("!ask three", time=13)) is None
    assert await text_of(await core.handle(line("!ask three", time=20))) == "Three."


async def test_user_cooldown_is_per_channel() -> None:
    inference = ScriptedInference(["A."], ["B."])
    core = make_core(inference, user_cooldown_s=10)
    assert await text_of(await core.handle(line("!ask a", channel="#a"))) == "A."
    assert await text_of(await core.handle(line("!ask b", channel="#b", time=1))) == "B."


async def test_channel_cooldown_holds_back_other_users() -> None:
    inference = ScriptedInference(["A."], ["B."])
    core = make_core(inference, user_cooldown_s=0, channel_cooldown_s=30)
    assert await text_of(await core.handle(line("!ask a", time=0))) == "A."
    notice = await core.handle(line("!ask b", user="bob", time=1))
    assert notice is not None and notice.kind is ReplyKind.REFUSED
    assert "slow down" in await notice.text()
    assert len(inference.calls) == 1
    assert await text_of(await core.handle(line("!ask b", user="bob", time=30))) == "B."


async def test_channel_cooldown_notice_is_not_repeated() -> None:
    inference = ScriptedInference(["A."])
    core = make_core(inference, user_cooldown_s=0, channel_cooldown_s=30)
    assert await text_of(await core.handle(line("!ask a", time=0))) == "A."
    assert await core.handle(line("!ask b", user="bob", time=1)) is not None
    assert await core.handle(line("!ask b", user="bob", time=2)) is None


async def test_channel_queue_limit_gives_a_busy_notice_until_replies_are_read() -> None:
    inference = ScriptedInference(["A."], [" B."], ["C."], ["D."])
    core = make_core(inference, channel_queue=2, user_cooldown_s=10, channel_cooldown_s=0)
    held_a = await core.handle(line("!ask a", user="alice", time=0))
    held_b = await core.handle(line("!gpt2 b", user="bob", time=0))
    assert held_a is not None and held_b is not None
    assert core.queues.pending(MAIN) == 2

    busy = await core.handle(line("!ask c", user="carol", time=0))
    assert busy is not None
    assert busy.kind is ReplyKind.REFUSED
    text = await busy.text()
    assert "busy" in text and "@carol" in text

    # Other channels are not affected.
    other = await core.handle(line("!ask d", user="dave", channel="#other", time=0))
    assert other is not None and other.kind is ReplyKind.ANSWER

    # Reading one reply frees a slot; carol was not charged a cooldown for the busy notice.
    assert await held_a.text() == "A."
    assert core.queues.pending(MAIN) == 1
    freed = await core.handle(line("!ask c", user="carol", time=1))
    assert freed is not None and freed.kind is ReplyKind.ANSWER

    assert await held_b.text() == "b B."
    assert await freed.text() == "C."
    assert await other.text() == "D."
    assert core.queues.pending(MAIN) == 0
    assert core.queues.pending(ChannelKey("twitch", "#other")) == 0


async def test_inference_error_before_any_text_is_a_polite_error() -> None:
    inference = ScriptedInference(InferenceError(UNREACHABLE), ["Back again."])
    core = make_core(inference)
    reply = await core.handle(line("!ask are you there?", user="alice", time=0))
    assert reply is not None
    deltas, text = await consume(reply)
    assert reply.kind is ReplyKind.ERROR
    assert text.startswith("Sorry")
    assert UNREACHABLE in text
    assert "".join(deltas).strip() == text
    assert "Traceback" not in text
    # The failure is not remembered as the bot's line, and the slot is free again.
    assert core.windows.lines(MAIN) == []
    assert core.queues.pending(MAIN) == 0

    # The core keeps working for the next command.
    reply = await core.handle(line("!ask now?", user="bob", time=1))
    assert await text_of(reply) == "Back again."
    assert reply is not None and reply.kind is ReplyKind.ANSWER
    messages = inference.calls[1].messages
    assert messages is not None
    assert "Sorry" not in messages[1]["content"]


async def test_inference_error_after_some_text_still_ends_as_an_error() -> None:
    inference = ScriptedInference(["The answer ", "is", InferenceError(UNREACHABLE)])
    core = make_core(inference)
    reply = await core.handle(line("!ask what?"))
    assert reply is not None
    deltas, text = await consume(reply)
    assert reply.kind is ReplyKind.ERROR
    assert text.startswith("Sorry")
    assert UNREACHABLE in text
    assert deltas[:2] == ["The answer ", "is"]
    assert deltas[-1].strip() == text
    assert core.windows.lines(MAIN) == []
    assert core.queues.pending(MAIN) == 0


async def test_gpt2_inference_error_is_polite_too() -> None:
    inference = ScriptedInference(InferenceError("the model is still waking up"))
    core = make_core(inference)
    reply = await core.handle(line("!gpt2 hello"))
    _, text = await consume(reply)
    assert reply is not None and reply.kind is ReplyKind.ERROR
    assert text.startswith("Sorry") and "waking up" in text
    assert core.windows.lines(MAIN) == []


async def test_a_long_answer_is_trimmed_at_a_sentence_end() -> None:
    answer = "This is the first sentence. And here comes a second one that runs far too long."
    inference = ScriptedInference([answer[:20], answer[20:]])
    core = make_core(inference, max_reply_chars=40)
    reply = await core.handle(line("!ask tell me"))
    _, text = await consume(reply)
    assert text == "This is the first sentence."
    assert reply is not None and reply.kind is ReplyKind.ANSWER
    assert window_texts(core, MAIN) == ["literai: This is the first sentence."]


async def test_a_very_long_answer_stops_reading_the_model() -> None:
    inference = ScriptedInference(["word "] * 500)
    core = make_core(inference, max_reply_chars=30)
    reply = await core.handle(line("!ask ramble"))
    _, text = await consume(reply)
    assert len(text) <= 30
    [call] = inference.calls
    assert call.closed
    assert call.pulled < 50


async def test_a_whitespace_answer_is_a_notice() -> None:
    inference = ScriptedInference([" ", "\n\n", "\t "])
    core = make_core(inference)
    reply = await core.handle(line("!ask anything?"))
    _, text = await consume(reply)
    assert reply is not None and reply.kind is ReplyKind.NOTICE
    assert text.strip()
    assert core.windows.lines(MAIN) == []
    assert core.queues.pending(MAIN) == 0


async def test_gpt2_that_adds_nothing_is_a_notice() -> None:
    inference = ScriptedInference(["   ", "\n"])
    core = make_core(inference)
    reply = await core.handle(line("!gpt2 hello"))
    _, text = await consume(reply)
    assert reply is not None and reply.kind is ReplyKind.NOTICE
    assert text != "hello"


async def test_help_lists_all_commands() -> None:
    inference = ScriptedInference()
    core = make_core(inference)
    reply = await core.handle(line("!help"))
    assert reply is not None and reply.kind is ReplyKind.NOTICE
    text = await reply.text()
    for name in ("!ask", "!gpt2", "!help"):
        assert name in text
    assert inference.calls == []
    # Help is not a model command: no cooldown, no queue.
    for _ in range(3):
        again = await core.handle(line("!help", time=0))
        assert again is not None and again.kind is ReplyKind.NOTICE
    assert core.queues.pending(MAIN) == 0


async def test_help_for_one_command_shows_usage_and_summary() -> None:
    core = make_core(ScriptedInference())
    text = await text_of(await core.handle(line("!help ask")))
    assert "!ask <question>" in text
    assert "Ask the bot anything; it sees the last few lines of chat." in text
    assert await text_of(await core.handle(line("!help !gpt2"))) == (
        await text_of(await core.handle(line("!help gpt2")))
    )
    missing = await text_of(await core.handle(line("!help nope")))
    assert "nope" in missing and "!help" in missing


async def test_help_follows_a_custom_prefix() -> None:
    core = make_core(ScriptedInference(), prefix="?")
    listing = await text_of(await core.handle(line("?help")))
    assert "?ask" in listing and "?gpt2" in listing and "!" not in listing
    usage = await text_of(await core.handle(line("?help ask")))
    assert usage.startswith("?ask <question>")


async def test_windows_never_leak_between_channels() -> None:
    inference = ScriptedInference(["B answer."], ["Discord answer."], [" cont", "\n"])
    core = make_core(inference)
    await core.handle(line("secret in A", user="alice", channel="#a"))
    await core.handle(line("public in B", user="bob", channel="#b"))

    await text_of(await core.handle(line("!ask what was said?", user="carol", channel="#b")))
    messages = inference.calls[0].messages
    assert messages is not None
    assert "public in B" in messages[1]["content"]
    assert "secret in A" not in messages[1]["content"]

    # Same channel name on another platform is another conversation.
    await text_of(
        await core.handle(line("!ask hm?", user="carol", channel="#a", platform="discord"))
    )
    messages = inference.calls[1].messages
    assert messages is not None
    assert "secret in A" not in messages[1]["content"]
    assert messages[1]["content"].strip() == "carol asks: hm?"

    # The bot's answers stay in their own channels too.
    await text_of(await core.handle(line("!gpt2 go", user="dave", channel="#a")))
    prompt = inference.calls[2].prompt
    assert prompt == "alice: secret in A\ndave: go"
    assert window_texts(core, ChannelKey("twitch", "#b")) == [
        "bob: public in B",
        "literai: B answer.",
    ]
    assert window_texts(core, ChannelKey("discord", "#a")) == ["literai: Discord answer."]


async def test_custom_components_plug_into_the_core() -> None:
    class Ping(Component):
        @command("ping", uses_model=False)
        async def ping(self, ctx: Context) -> Reply:
            """!ping

            Answer pong.
            """
            return Reply(ctx.line, ReplyKind.NOTICE, f"pong {ctx.args}".strip())

    core = ChatCore(bot_settings(prefix="?"), ScriptedInference(), [Ping()])
    assert await text_of(await core.handle(line("?PING there"))) == "pong there"
    assert await core.handle(line("?help")) is not None  # unknown here: no HelpCommands
    usage = core.router.get("ping")
    assert usage is not None and core.router.usage(usage) == "?ping"


async def test_punctuation_after_the_prefix_is_chat_not_a_command() -> None:
    core = make_core(ScriptedInference())
    for text in ("!!!", "!?", "! hello", "!"):
        assert await core.handle(line(text)) is None
    assert window_texts(core, MAIN) == [f"alice: {t}" for t in ("!!!", "!?", "! hello", "!")]


async def test_an_unexpected_failure_mid_stream_is_still_a_polite_error() -> None:
    inference = ScriptedInference(["Half an ans", RuntimeError("bug in a client")], ["Fine."])
    core = make_core(inference, user_cooldown_s=0)
    reply = await core.handle(line("!ask what?"))
    assert reply is not None
    _, text = await consume(reply)
    assert reply.kind is ReplyKind.ERROR
    assert text.startswith("Sorry")
    # The channel slot was freed: the next question is answered.
    assert await text_of(await core.handle(line("!ask again?", time=1))) == "Fine."


async def test_a_reply_dropped_unread_frees_its_channel_slot() -> None:
    import gc

    inference = ScriptedInference(["Read."])  # the dropped reply never calls the model
    core = make_core(inference, user_cooldown_s=0, channel_queue=1)
    dropped = await core.handle(line("!ask one?"))
    assert dropped is not None
    assert core.queues.pending(MAIN) == 1
    del dropped  # an adapter that failed before reading it
    gc.collect()
    assert core.queues.pending(MAIN) == 0
    assert await text_of(await core.handle(line("!ask two?", time=1))) == "Read."


def test_trim_drops_a_partial_last_sentence_when_cut_off() -> None:
    text = "First sentence here. Second one is longer and also done! And then it stops mid"
    assert trim_reply(text, 400) == text
    assert trim_reply(text, 400, cut_off=True) == (
        "First sentence here. Second one is longer and also done!"
    )
    assert trim_reply("no sentence end at all", 400, cut_off=True) == "no sentence end at all"


async def test_say_speaks_text_or_the_last_reply_as_media() -> None:
    inference = ScriptedInference(["RIFFfake-wav"], ["The answer."], ["RIFFagain"])
    core = make_core(inference, user_cooldown_s=0)
    nothing = await core.handle(line("!say"))
    assert await text_of(nothing) == "I haven't said anything here yet."
    said = await core.handle(line("!say hello chat", time=1))
    assert said is not None
    assert await said.text() == "🔊 hello chat"
    assert said.kind is ReplyKind.MEDIA
    assert said.media is not None and said.media.data == b"RIFFfake-wav"
    assert said.media.alt == "hello chat" and said.media.mime == "audio/wav"
    await text_of(await core.handle(line("!ask anything?", time=2)))
    again = await core.handle(line("!say", time=3))
    assert again is not None and await again.text() == "🔊 The answer."
    assert inference.calls[-1].prompt == "The answer."
    # Media lines are not chat: the window holds the question's answer, not "🔊 ...".
    assert not any("🔊" in t for t in window_texts(core, MAIN))


async def test_say_failure_is_polite_and_frees_the_media_slot() -> None:
    inference = ScriptedInference(InferenceError(UNREACHABLE), ["RIFF"])
    core = make_core(inference, user_cooldown_s=0)
    failed = await core.handle(line("!say hi"))
    assert failed is not None
    assert (await failed.text()).startswith("Sorry, I can't speak right now")
    assert failed.kind is ReplyKind.ERROR
    assert component_of(core, "say").slots.pending("media") == 0
    ok = await core.handle(line("!say hi", time=1))
    assert ok is not None and (await ok.text()) == "🔊 hi"


async def test_imagine_returns_a_picture_or_one_polite_notice() -> None:
    not_set_up = InferenceError("that is not set up on this server", not_configured=True)
    inference = ScriptedInference(["PNGdata"], not_set_up, not_set_up, InferenceError("busy"))
    core = make_core(inference, user_cooldown_s=0)
    usage = await core.handle(line("!imagine"))
    assert await text_of(usage) == "Usage: !imagine <prompt>"
    pic = await core.handle(line("!imagine a cat", time=1))
    assert pic is not None and await pic.text() == "🎨 a cat"
    assert pic.media is not None and pic.media.mime == "image/png" and pic.media.alt == "a cat"
    first = await core.handle(line("!imagine a dog", time=2))
    assert await text_of(first) == "Sorry, images aren't set up here."
    assert await core.handle(line("!imagine a dog", time=3)) is None  # said once
    failed = await core.handle(line("!imagine a cow", time=4))
    assert failed is not None and (await failed.text()).startswith("Sorry, I can't draw")
    assert core.queues.pending(MAIN) == 0
    assert component_of(core, "imagine").slots.pending("media") == 0


def mod_line(text: str, time: float = 0.0, roles: tuple[str, ...] = ("moderator",)) -> ChatLine:
    return ChatLine("twitch", "#main", "mod", text, time, frozenset(roles))


async def test_moderator_commands_check_roles() -> None:
    core = make_core(ScriptedInference())
    for text in ("!clear", "!persona be a pirate", "!pause", "!resume"):
        refused = await text_of(await core.handle(line(text)))
        assert refused == f"Only moderators can use {text.split()[0]}."
    help_for_viewer = await text_of(await core.handle(line("!help")))
    assert "!clear" not in help_for_viewer and "!ask" in help_for_viewer
    help_for_mod = await text_of(await core.handle(mod_line("!help")))
    assert "!clear" in help_for_mod and "!persona" in help_for_mod


async def test_clear_persona_pause_and_resume() -> None:
    inference = ScriptedInference(["Arr."], ["Fine."])
    core = make_core(inference, user_cooldown_s=0)
    await core.handle(line("hello there"))
    assert (await text_of(await core.handle(mod_line("!clear")))).startswith("Done")
    assert core.windows.lines(MAIN) == []
    await text_of(await core.handle(mod_line("!persona You are a pirate.")))
    await text_of(await core.handle(line("!ask who are you?", time=1)))
    assert inference.calls[-1].messages[0]["content"] == "You are a pirate."  # type: ignore[index]
    other = ChatLine("twitch", "#other", "alice", "!ask hi", 2)
    await text_of(await core.handle(other))
    assert inference.calls[-1].messages[0]["content"] == PERSONA  # other channels keep theirs
    assert (await text_of(await core.handle(mod_line("!pause", 3)))).startswith("Paused")
    assert await core.handle(line("!ask anyone?", time=4)) is None
    assert (await text_of(await core.handle(line("!help", time=4)))).startswith("Commands")
    await text_of(await core.handle(mod_line("!resume", 5)))
    await text_of(await core.handle(mod_line("!persona reset", 5)))
    assert core.persona(MAIN) == PERSONA


async def test_a_thread_keeps_its_own_window_but_follows_its_parents_settings() -> None:
    inference = ScriptedInference(["Arr."], ["Arr again."])
    core = make_core(inference, user_cooldown_s=0)
    thread = "#main/thread-1"
    await core.handle(line("said in the channel"))
    await text_of(await core.handle(mod_line("!persona You are a pirate.")))
    in_thread = ChatLine("twitch", thread, "bob", "!ask who are you?", 1, scope="#main")
    await text_of(await core.handle(in_thread))
    messages = inference.calls[-1].messages
    assert messages is not None and messages[0]["content"] == "You are a pirate."
    assert not any("said in the channel" in m["content"] for m in messages)  # own window
    await text_of(await core.handle(mod_line("!pause", 2)))
    paused = ChatLine("twitch", thread, "bob", "!ask still there?", 3, scope="#main")
    assert await core.handle(paused) is None  # the parent's pause holds in its threads


class _OnlyOnDiscord(Component):
    @command("join", uses_model=False, platforms=("discord",), arg="unused")
    async def join(self, ctx: Context) -> Reply:
        """!join

        Join your voice channel.
        """
        return Reply(ctx.line, ReplyKind.NOTICE, f"joined; source={ctx.line.source!r}")


async def test_platform_commands_exist_only_on_their_platform() -> None:
    core = make_core(ScriptedInference(), components=[*default_components(), _OnlyOnDiscord()])
    on_twitch = await text_of(await core.handle(line("!join")))
    assert on_twitch.startswith("Unknown command !join")
    assert "!join" not in await text_of(await core.handle(line("!help", time=20)))
    event = object()
    discord_line = ChatLine("discord", "1", "u", "!join", 0, source=event)
    assert await text_of(await core.handle(discord_line)) == f"joined; source={event!r}"
    assert discord_line == ChatLine("discord", "1", "u", "!join", 0)  # source is not identity
    help_on_discord = ChatLine("discord", "1", "u", "!help", 0)
    assert "!join" in await text_of(await core.handle(help_on_discord))


def test_command_argument_names_come_from_the_usage_line() -> None:
    router = CommandRouter()
    for component in (ChatCommands(), HelpCommands()):
        router.add_component(component)
    ask, gpt2, help_ = router.get("ask"), router.get("gpt2"), router.get("help")
    assert ask is not None and ask.arg_name == "question" and ask.arg == "Your question"
    assert gpt2 is not None and gpt2.arg_name == "text"
    assert help_ is not None and help_.arg_name == "command"


async def test_observers_see_answers_grow_and_finish_but_not_notices() -> None:
    seen: list[tuple[str, bool]] = []
    observed: list[Reply] = []

    def observe(reply: Reply) -> None:
        observed.append(reply)
        reply.watch(lambda text, done: seen.append((text, done)))

    def broken(text: str, done: bool) -> None:
        raise RuntimeError("overlay bug")

    core = make_core(
        ScriptedInference(["The ", "teletype ", "hums."]),
        observers=[observe, lambda reply: reply.watch(broken)],
        user_cooldown_s=0,
    )
    assert (await text_of(await core.handle(line("!help")))).startswith("Commands")
    assert observed == []  # notices are for the chat only
    reply = await core.handle(line("!ask what hums?", time=1))
    _, final = await consume(reply)
    assert final == "The teletype hums."
    assert seen == [("The ", False), ("The teletype ", False), ("The teletype hums.", False),
                    ("The teletype hums.", True)]  # fmt: skip
    assert observed == [reply]


def test_watching_a_finished_reply_shows_it_at_once() -> None:
    reply = Reply(line("!say hi"), ReplyKind.MEDIA, "🔊 hi")
    seen: list[tuple[str, bool]] = []
    reply.watch(lambda text, done: seen.append((text, done)))
    assert seen == [("🔊 hi", True)]


async def test_summary_covers_the_last_minutes_of_a_longer_history() -> None:
    inference = ScriptedInference(["They talked about paper tape."])
    core = make_core(inference, user_cooldown_s=0, window_lines=2)
    for i, text in enumerate(["old news from earlier"] + [f"paper tape {n}" for n in range(6)]):
        await core.handle(line(text, user=f"u{i}", time=0 if i == 0 else 1000 + i))
    usage = await text_of(await core.handle(line("!summary soon", time=1100)))
    assert usage == "Usage: !summary [minutes], 1 to 1440."
    reply = await core.handle(line("!summary 10", time=1100))
    assert await text_of(reply) == "Last 10 minutes: They talked about paper tape."
    prompt = (inference.calls[0].messages or [])[-1]["content"]
    assert "u1: paper tape 0" in prompt and "u6: paper tape 5" in prompt  # beyond the window
    assert "old news" not in prompt  # older than 10 minutes
    quiet = make_core(ScriptedInference())
    assert (await text_of(await quiet.handle(line("!summary")))).startswith("Not much")


async def test_summary_failure_is_a_polite_line() -> None:
    down = ScriptedInference(InferenceError("the model server is down"))
    core = make_core(down, user_cooldown_s=0)
    for i in range(4):
        await core.handle(line(f"line {i}", time=i))
    failed = await text_of(await core.handle(line("!summary", time=10)))
    assert failed == "Sorry, I can't summarize right now: the model server is down."


# --------------------------------------------------------------------------- posts unasked


class Poster:
    """A fake twitch adapter: what the core posts unasked, as (kind, channel, text)."""

    platform = "twitch"

    def __init__(self) -> None:
        self.posted: list[tuple[ReplyKind, str, str]] = []

    def components(self) -> list[Component]:
        return []

    async def announce(self, reply: Reply) -> None:
        self.posted.append((reply.kind, reply.line.channel, await reply.text()))


def announced(core: ChatCore) -> list[tuple[ReplyKind, str, str]]:
    """Capture what the core posts unasked on twitch: (kind, channel, text)."""
    poster = Poster()
    core.attach(poster)
    return poster.posted


class ManualSleep:
    """A ``sleep`` for timed loops that returns only when the test says: ``tick()`` ends
    one sleep and waits until the loop has done its round and sleeps again."""

    def __init__(self) -> None:
        self.sleepers: asyncio.Queue[asyncio.Future[None]] = asyncio.Queue()
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        future = asyncio.get_running_loop().create_future()
        self.sleepers.put_nowait(future)
        await future

    async def tick(self) -> None:
        (await self.sleepers.get()).set_result(None)
        again = await self.sleepers.get()  # the round is over: it sleeps again
        self.sleepers.put_nowait(again)


async def test_timed_recap_posts_what_is_new_and_says_a_failure_once() -> None:
    down = InferenceError("the model server is down")
    inference = ScriptedInference(down, down, ["They discussed paper tape."])
    sleep = ManualSleep()
    components = default_components(clock=lambda: 99.0, sleep=sleep)
    core = make_core(
        inference, components=components, user_cooldown_s=0, summary={"recap_min_minutes": 1}
    )
    posted = announced(core)
    assert (await text_of(await core.handle(line("!recap every 5")))).startswith("Only moder")
    for bad in ("!recap", "!recap every soon", "!recap every 0.5", "!recap sometimes"):
        usage = await text_of(await core.handle(mod_line(bad)))
        assert usage.startswith("Usage: !recap every <minutes>"), (bad, usage)
        assert bad == "!recap" or "(1 to 1440)" in usage
    on = await text_of(await core.handle(mod_line("!recap every 2")))
    assert on.startswith("I'll post a recap of the chat every 2 minutes")
    for _ in range(3):  # rounds with nothing new: nothing posted, no model call
        await sleep.tick()
    assert posted == [] and inference.calls == [] and sleep.asked[0] == 120
    for i in range(3):
        await core.handle(line(f"paper tape {i}", user=f"u{i}", time=1 + i))
    for _ in range(3):
        await sleep.tick()
    assert posted == [
        (ReplyKind.ERROR, "#main",
         "Sorry, I couldn't make this recap: the model server is down. I'll try again later."),
        (ReplyKind.ANSWER, "#main", "📝 Recap, last 2 minutes: They discussed paper tape."),
    ]  # fmt: skip
    assert len(inference.calls) == 3  # failed twice, said so once
    assert "u2: paper tape 2" in (inference.calls[-1].messages or [])[-1]["content"]
    await sleep.tick()
    assert len(posted) == 2  # those lines are recapped; nothing new since
    assert await text_of(await core.handle(mod_line("!recap off"))) == "Timed recaps are off."
    assert await text_of(await core.handle(mod_line("!recap off"))) == (
        "Timed recaps are off already."
    )
    await core.aclose()


async def test_a_recap_round_alone_without_any_loop() -> None:
    inference = ScriptedInference(["Tape was discussed."])
    core = make_core(inference, user_cooldown_s=0)
    posted = announced(core)
    start = line("before", time=0)
    await core.handle(start)
    recap = Recap(core, start, 5)
    assert await recap.run_once(10.0) is None  # nothing new since it started
    for i in range(3):
        await core.handle(line(f"tape {i}", user=f"u{i}", time=1 + i))
    reply = await recap.run_once(20.0)
    assert reply is not None and reply.line.time == 20.0
    assert posted == [(ReplyKind.ANSWER, "#main", "📝 Recap, last 5 minutes: Tape was discussed.")]
    assert await recap.run_once(30.0) is None


async def test_podcast_rules_in_chat() -> None:
    inference = ScriptedInference(InferenceError("the model server is down"))
    unset = make_core(inference, user_cooldown_s=0)
    said = await text_of(await unset.handle(line("!podcast")))
    assert said == "Podcasts aren't set up here."  # no episode folder given to the core
    episodes = Path("/nonexistent/never-written")
    core = make_core(
        inference,
        components=default_components(episodes=episodes),
        user_cooldown_s=0,
        podcast={"cooldown_s": 600},
    )
    posted = announced(core)
    assert await text_of(await core.handle(line("!podcast", time=1))) == (
        "Not much has been said here yet."
    )
    given = await text_of(await core.handle(line("!podcast my own text", time=2)))
    assert given == "Only moderators can give me a text; !podcast alone talks about the chat."
    for i in range(3):
        await core.handle(line(f"tape talk {i}", user=f"u{i}", time=3 + i))
    started = await text_of(await core.handle(line("!podcast", time=10)))
    assert started.startswith("🎙️ Recording an episode about the recent chat")
    await until(lambda: len(posted) == 1)  # the model is down: said, nothing written
    assert posted == [
        (ReplyKind.ERROR, "#main",
         "Sorry, I couldn't finish the episode: the model server is down.")
    ]  # fmt: skip
    prompt = (inference.calls[0].messages or [])[-1]["content"]
    assert "u2: tape talk 2" in prompt
    again = await text_of(await core.handle(line("!podcast", time=20)))
    assert again == "The next episode can start in 10 min."  # per channel, for viewers
    inference.queue(["Ada: Hi.\nBob: Hello."])  # then no more answers
    await text_of(await core.handle(mod_line("!podcast a text from a mod", time=30)))
    refused = await core.handle(mod_line("!podcast another", time=31))
    assert refused is not None and refused.kind is ReplyKind.REFUSED
    await core.aclose()
