"""The standard commands besides chat: !help, !say and !imagine (real WAV and PNG
bytes from the scripted inference), and !summary."""

from __future__ import annotations

from literai_core.chat import ReplyKind
from literai_core.inference import InferenceError

from .kit.chat import (
    MAIN,
    component_of,
    line,
    make_core,
    text_of,
    window_texts,
)
from .kit.media import colour_of, png_of, spoken, wav_seconds
from .kit.scripted import MADE, UNREACHABLE, ScriptedInference

# ------------------------------------------------------------------------------------------- !help


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


# ------------------------------------------------------------------------------------------- media


async def test_say_speaks_text_or_the_last_reply_as_media() -> None:
    inference = ScriptedInference(MADE, ["The answer."], MADE)
    core = make_core(inference, user_cooldown_s=0)
    nothing = await core.handle(line("!say"))
    assert await text_of(nothing) == "I haven't said anything here yet."
    said = await core.handle(line("!say hello chat", time=1))
    assert said is not None
    assert await said.text() == "🔊 hello chat"
    assert said.kind is ReplyKind.MEDIA
    assert said.media is not None and said.media.data == spoken("hello chat")
    assert wav_seconds(said.media.data) == 0.2  # a real WAV: two words, 0.1 s each
    assert said.media.alt == "hello chat" and said.media.mime == "audio/wav"
    await text_of(await core.handle(line("!ask anything?", time=2)))
    again = await core.handle(line("!say", time=3))
    assert again is not None and await again.text() == "🔊 The answer."
    assert inference.calls[-1].prompt == "The answer."
    assert again.media is not None and wav_seconds(again.media.data) == 0.2
    # Media lines are not chat: the window holds the question's answer, not "🔊 ...".
    assert not any("🔊" in t for t in window_texts(core, MAIN))


async def test_say_failure_is_polite_and_frees_the_media_slot() -> None:
    inference = ScriptedInference(InferenceError(UNREACHABLE), MADE)
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
    inference = ScriptedInference(MADE, not_set_up, not_set_up, InferenceError("busy"))
    core = make_core(inference, user_cooldown_s=0)
    usage = await core.handle(line("!imagine"))
    assert await text_of(usage) == "Usage: !imagine <prompt>"
    pic = await core.handle(line("!imagine a cat", time=1))
    assert pic is not None and await pic.text() == "🎨 a cat"
    assert pic.media is not None and pic.media.mime == "image/png" and pic.media.alt == "a cat"
    assert png_of(pic.media.data) == ((512, 512), colour_of("a cat"))  # a real PNG, as asked
    assert [(c.kind, c.prompt) for c in inference.calls] == [("image", "a cat")]
    first = await core.handle(line("!imagine a dog", time=2))
    assert await text_of(first) == "Sorry, images aren't set up here."
    assert await core.handle(line("!imagine a dog", time=3)) is None  # said once
    failed = await core.handle(line("!imagine a cow", time=4))
    assert failed is not None and (await failed.text()).startswith("Sorry, I can't draw")
    assert core.queues.pending(MAIN) == 0
    assert component_of(core, "imagine").slots.pending("media") == 0


# ---------------------------------------------------------------------------------------- !summary


async def test_summary_covers_the_last_minutes_of_a_longer_history() -> None:
    inference = ScriptedInference(["They talked about paper tape."])
    model = {"chat_style": "model"}  # the quoted highlights: tests/test_highlights.py
    core = make_core(inference, user_cooldown_s=0, window_lines=2, summary=model)
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
    core = make_core(down, user_cooldown_s=0, summary={"chat_style": "model"})
    for i in range(4):
        await core.handle(line(f"line {i}", time=i))
    failed = await text_of(await core.handle(line("!summary", time=10)))
    assert failed == "Sorry, I can't summarize right now: the model server is down."
