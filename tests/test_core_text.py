"""Text in and out of the chat core: trimming replies, parsing commands and their
usage from docstrings, and the Reply that streams an answer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from literai_core.chat import Reply, ReplyKind
from literai_core.commands.chat import ChatCommands
from literai_core.commands.help import HelpCommands
from literai_core.router import CommandRouter, command
from literai_core.trim import trim_reply

from .kit.chat import (
    consume,
    line,
)

# -------------------------------------------------------------------------------------- trim_reply


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


def test_trim_drops_a_partial_last_sentence_when_cut_off() -> None:
    text = "First sentence here. Second one is longer and also done! And then it stops mid"
    assert trim_reply(text, 400) == text
    assert trim_reply(text, 400, cut_off=True) == (
        "First sentence here. Second one is longer and also done!"
    )
    assert trim_reply("no sentence end at all", 400, cut_off=True) == "no sentence end at all"


# ----------------------------------------------------------------------------------- CommandRouter


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


def test_command_argument_names_come_from_the_usage_line() -> None:
    router = CommandRouter()
    for component in (ChatCommands(), HelpCommands()):
        router.add_component(component)
    ask, gpt2, help_ = router.get("ask"), router.get("gpt2"), router.get("help")
    assert ask is not None and ask.arg_name == "question" and ask.arg == "Your question"
    assert gpt2 is not None and gpt2.arg_name == "text"
    assert help_ is not None and help_.arg_name == "command"


# ------------------------------------------------------------------------------------------- Reply


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


def test_watching_a_finished_reply_shows_it_at_once() -> None:
    reply = Reply(line("!say hi"), ReplyKind.MEDIA, "🔊 hi")
    seen: list[tuple[str, bool]] = []
    reply.watch(lambda text, done: seen.append((text, done)))
    assert seen == [("🔊 hi", True)]
