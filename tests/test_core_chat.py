"""ChatCore end to end against the scripted inference: chat goes into the window,
!gpt2 continues it, !ask asks with the persona, windows never leak between channels,
components plug in, observers watch answers grow. Nothing here sleeps or talks to a model."""

from __future__ import annotations

from literai_core.chat import ChannelKey, ChatLine, Reply, ReplyKind
from literai_core.commands import default_components
from literai_core.core import ChatCore
from literai_core.inference import Generation
from literai_core.router import Component, Context, command

from .kit.chat import (
    ASK_GEN,
    MAIN,
    PERSONA,
    bot_settings,
    consume,
    line,
    make_core,
    text_of,
    window_texts,
)
from .kit.scripted import ScriptedInference

# ---------------------------------------------------------------------------- chat, !gpt2 and !ask


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
    # The content filter shows a line once it is known (a sentence end, or 48 characters
    # on): this short one comes whole.
    assert deltas[0].startswith("hello")
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
    inference = ScriptedInference(["\n", " world.", "\nnext line"])
    core = make_core(inference)
    _, text = await consume(await core.handle(line("!gpt2 hello")))
    assert text == "hello world."


async def test_gpt2_stops_at_the_first_newline_after_text_within_one_piece() -> None:
    inference = ScriptedInference(["\n\n world!\nnext line"])
    core = make_core(inference)
    _, text = await consume(await core.handle(line("!gpt2 hello")))
    assert text == "hello world!"


async def test_gpt2_keeps_a_chat_line_without_an_end_mark() -> None:
    inference = ScriptedInference([" world and friends", "\nbob: x"])
    core = make_core(inference)
    _, text = await consume(await core.handle(line("!gpt2 hello")))
    assert text == "hello world and friends" and len(inference.calls) == 1


async def test_gpt2_without_text_continues_the_chat() -> None:
    inference = ScriptedInference([" sounds good.", "\nmore"])
    core = make_core(inference)
    await core.handle(line("pizza tonight?", user="bob"))
    reply = await core.handle(line("!gpt2", user="alice", time=1))
    _, text = await consume(reply)
    # No text of one's own: the transcript ends with the bot's turn for the model to fill.
    assert inference.calls[0].prompt == "bob: pizza tonight?\nliterai:"
    assert text == "sounds good."


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


async def test_ask_writes_unnamed_chat_lines_in_the_configured_style() -> None:
    for style, written in (("dash", "- hi\n- bread day"), ("plain", "hi\nbread day"),
                           ("quoted", '"hi"\n"bread day"')):  # fmt: skip
        inference = ScriptedInference(["Flour, water, salt."])
        ask = ASK_GEN.model_copy(update={"names": False, "line_style": style})
        core = make_core(inference, ask=ask)
        await core.handle(line("hi", user="alice", time=0))
        await core.handle(line("bread day", user="bob", time=1))
        await text_of(await core.handle(line("!ask name three things", user="carol", time=2)))
        messages = inference.calls[0].messages
        assert messages is not None
        assert written in messages[1]["content"], style
        assert "alice" not in messages[1]["content"]


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


# ------------------------------------------------------------------------ components and observers


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


async def test_observers_see_answers_grow_and_finish_but_not_notices() -> None:
    seen: list[tuple[str, bool]] = []
    observed: list[Reply] = []

    def observe(reply: Reply) -> None:
        observed.append(reply)
        reply.watch(lambda text, done: seen.append((text, done)))

    def broken(text: str, done: bool) -> None:
        raise RuntimeError("overlay bug")

    core = make_core(
        ScriptedInference(["The ", "teletype ", "hums. ", "It ", "clicks."]),
        observers=[observe, lambda reply: reply.watch(broken)],
        user_cooldown_s=0,
    )
    assert (await text_of(await core.handle(line("!help")))).startswith("Commands")
    assert observed == []  # notices are for the chat only
    reply = await core.handle(line("!ask what hums?", time=1))
    _, final = await consume(reply)
    assert final == "The teletype hums. It clicks."
    # Answers grow a sentence at a time: each is shown once the guard has passed it.
    assert seen == [("The teletype hums. ", False), ("The teletype hums. It clicks.", False),
                    ("The teletype hums. It clicks.", True)]  # fmt: skip
    assert observed == [reply]
