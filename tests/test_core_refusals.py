"""What the chat core says instead of an answer: usage lines, unknown commands,
over-long prompts, cooldowns, a full channel queue, model errors and empty or runaway
answers, and that every refusal or failure frees what it held."""

from __future__ import annotations

from literai_core.chat import ChannelKey, ReplyKind
from literai_core.inference import InferenceError

from .kit.chat import (
    MAIN,
    consume,
    line,
    make_core,
    text_of,
    window_texts,
)
from .kit.scripted import UNREACHABLE, ScriptedInference

# ---------------------------------------------------------------------- usage and unknown commands


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


# ---------------------------------------------------------------------------- cooldowns and queues


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


# ------------------------------------------------------------------ model failures and odd answers


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
    inference = ScriptedInference(["The answer ", "is near. ", "It", InferenceError(UNREACHABLE)])
    core = make_core(inference)
    reply = await core.handle(line("!ask what?"))
    assert reply is not None
    deltas, text = await consume(reply)
    assert reply.kind is ReplyKind.ERROR
    assert text.startswith("Sorry")
    assert UNREACHABLE in text
    assert deltas[0] == "The answer is near. "  # what was shown stays; the rest never was
    assert "".join(deltas[1:]).strip() == text
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


async def test_a_long_answer_is_trimmed_at_a_sentence_end() -> None:
    answer = "This is the first sentence. And here comes a second one that runs far too long."
    inference = ScriptedInference([answer[:20], answer[20:]])
    core = make_core(inference, max_reply_chars=40)
    reply = await core.handle(line("!ask tell me"))
    _, text = await consume(reply)
    assert text == "This is the first sentence."
    assert reply is not None and reply.kind is ReplyKind.ANSWER
    assert window_texts(core, MAIN) == ["literai: This is the first sentence."]


async def test_an_answer_going_round_as_a_whole_stops_where_it_starts_to() -> None:
    sentences = [
        "Pasta needs salt in the water, always. ",
        "Good pasta needs salt in the water and a big pot. ",
        "My nonna said fresh pasta needs salt in the water every day of the week. ",
        "So the pasta needs salt in the water, and then you wait for the boil.",
    ]  # each new enough alone; together, over a fifth of the 4-grams repeat
    inference = ScriptedInference(sentences)
    core = make_core(inference)
    _, text = await consume(await core.handle(line("!ask how do I cook pasta?")))
    assert text == "".join(sentences[:3]).strip()


async def test_a_very_long_answer_stops_reading_the_model() -> None:
    inference = ScriptedInference([f"word{n} " for n in range(500)])
    core = make_core(inference, max_reply_chars=30)
    reply = await core.handle(line("!ask ramble"))
    _, text = await consume(reply)
    assert len(text) <= 30
    [call] = inference.calls
    assert call.closed
    assert call.pulled < 50


async def test_a_whitespace_answer_is_a_notice() -> None:
    inference = ScriptedInference([" ", "\n\n", "\t "], ["  "])  # and once more
    core = make_core(inference)
    reply = await core.handle(line("!ask anything?"))
    _, text = await consume(reply)
    assert reply is not None and reply.kind is ReplyKind.NOTICE
    assert text.strip()
    assert core.windows.lines(MAIN) == []
    assert core.queues.pending(MAIN) == 0


async def test_gpt2_that_adds_nothing_is_a_notice() -> None:
    inference = ScriptedInference(["   ", "\n"], [" "])  # and once more
    core = make_core(inference)
    reply = await core.handle(line("!gpt2 hello"))
    _, text = await consume(reply)
    assert reply is not None and reply.kind is ReplyKind.NOTICE
    assert text != "hello"
