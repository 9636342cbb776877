"""An answer written again: the retries of ``!ask`` and ``!gpt2`` run at once, the first
to pass a sentence is shown and the others are stopped; one after another where the
config says so; a retry that fails while another answers costs nothing."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator

import pytest

from literai_core.answer import Answer
from literai_core.chat import Reply
from literai_core.guard import Guard, Sources
from literai_core.inference import InferenceError

from .kit.chat import line, make_core, text_of
from .kit.scripted import ScriptedInference

ECHO = ["Hello there, chat. ", "More."]  # the chat line below: the guard stops it
HANG_S = 30  # retries one after another would wait for the slow one forever


async def test_the_retries_run_at_once_and_the_first_to_pass_is_shown() -> None:
    still_writing, more = asyncio.Event(), asyncio.Event()  # the first retry is slow
    slow = [still_writing, "A slow answer. "]
    fast = ["A teletype is a printing telegraph. ", more, "It clatters. "]
    inference = ScriptedInference(ECHO, slow, fast)
    core = make_core(inference, ask={"retries": 2})
    await core.handle(line("hello there, chat", user="alice"))
    reply = await core.handle(line("!ask what is a teletype?", user="bob", time=1))
    assert reply is not None
    deltas = reply.deltas()
    async with asyncio.timeout(HANG_S):
        assert "printing telegraph" in await anext(deltas)
    first, retry1, retry2 = inference.calls
    # stopped as soon as the other passed a sentence, while the winner still writes
    assert retry1.closed and retry1.pulled == 0 and not retry2.closed
    more.set()
    assert [d async for d in deltas] == ["It clatters. "]
    assert reply.final_text == "A teletype is a printing telegraph. It clatters."
    assert retry2.gen.frequency_penalty > retry1.gen.frequency_penalty > first.gen.frequency_penalty


async def test_a_closed_answer_stops_every_retry() -> None:
    """The reader is cancelled mid-answer (a barge-in on the voice page cancels its
    turn): no model stream is left open."""
    stalled, later = asyncio.Event(), asyncio.Event()
    inference = ScriptedInference(
        ECHO, [stalled, "Slow. "], ["A teletype prints. ", later, "More. "]
    )
    core = make_core(inference, ask={"retries": 2})
    await core.handle(line("hello there, chat", user="alice"))
    reply = await core.handle(line("!ask what is a teletype?", user="bob", time=1))
    assert reply is not None
    shown = asyncio.Event()

    async def read() -> None:
        assert reply is not None
        async for _ in reply.deltas():
            shown.set()

    reader = asyncio.create_task(read())
    async with asyncio.timeout(HANG_S):
        await shown.wait()
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    assert len(inference.calls) == 3 and all(call.closed for call in inference.calls)


async def test_gpt2_retries_race_too_and_keep_the_viewers_text() -> None:
    still_writing = asyncio.Event()
    inference = ScriptedInference(
        [" hello there, chat\n"], [still_writing, " a slow one\n"], [" is a fine machine\n"]
    )
    core = make_core(inference, gpt2={"retries": 2})
    await core.handle(line("hello there, chat", user="alice"))
    reply = await core.handle(line("!gpt2 the Model 33", user="bob", time=1))
    async with asyncio.timeout(HANG_S):
        assert await text_of(reply) == "the Model 33 is a fine machine"
    assert inference.calls[1].closed and inference.calls[1].pulled == 0


async def test_a_failed_retry_costs_nothing_when_another_answers() -> None:
    down = InferenceError("the model server is unreachable")
    inference = ScriptedInference(ECHO, down, ["A teletype prints. "])
    core = make_core(inference, ask={"retries": 2})
    await core.handle(line("hello there, chat", user="alice"))
    reply = await core.handle(line("!ask what is a teletype?", user="bob", time=1))
    assert await text_of(reply) == "A teletype prints."


async def test_when_every_retry_fails_the_asker_is_told_politely() -> None:
    down = InferenceError("the model server is unreachable")
    inference = ScriptedInference(ECHO, down, down)
    core = make_core(inference, ask={"retries": 2})
    await core.handle(line("hello there, chat", user="alice"))
    reply = await core.handle(line("!ask what is a teletype?", user="bob", time=1))
    assert await text_of(reply) == (
        "Sorry, I can't answer right now: the model server is unreachable. "
        "Please try again in a minute."
    )


async def test_a_winner_that_fails_mid_answer_ends_in_the_polite_line() -> None:
    down = InferenceError("the model server is unreachable")
    inference = ScriptedInference(ECHO, ["A teletype prints. ", down], ECHO)
    core = make_core(inference, ask={"retries": 2})
    await core.handle(line("hello there, chat", user="alice"))
    reply = await core.handle(line("!ask what is a teletype?", user="bob", time=1))
    assert reply is not None
    assert "".join([d async for d in reply.deltas()]) == (
        "A teletype prints. \nSorry, I can't answer right now: the model server is "
        "unreachable. Please try again in a minute."
    )


async def test_a_bug_in_a_losing_retry_is_logged_and_the_answer_stands(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inference = ScriptedInference(ECHO, [ValueError("a bug in the losing try")], ["It prints. "])
    core = make_core(inference, ask={"retries": 2})
    await core.handle(line("hello there, chat", user="alice"))
    reply = await core.handle(line("!ask what is a teletype?", user="bob", time=1))
    assert await text_of(reply) == "It prints."
    [logged] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "a bug in the losing try" in str(logged.exc_info[1])  # type: ignore[index]


async def test_retries_one_after_another_where_the_config_says_so() -> None:
    inference = ScriptedInference(ECHO, ["A teletype prints. "])  # no third answer queued
    core = make_core(inference, ask={"retries": 2, "retry_together": False})
    await core.handle(line("hello there, chat", user="alice"))
    reply = await core.handle(line("!ask what is a teletype?", user="bob", time=1))
    assert await text_of(reply) == "A teletype prints."
    assert len(inference.calls) == 2  # the second retry was never asked for


async def test_a_checked_forms_retries_race_and_the_first_that_passes_is_shown() -> None:
    """A yes-or-no question: an answer is held back until it is whole and checked, and
    the retries are written at once, the first whole one that passes kept."""
    still_writing = asyncio.Event()
    inference = ScriptedInference(
        ["Maybe it is loud. "], [still_writing, "Yes, slowly. "], ["Yes, it clatters. "]
    )
    core = make_core(inference, ask={"retries": 2, "shaped": False})
    reply = await core.handle(line("!ask is a teletype loud, yes or no?", user="bob"))
    async with asyncio.timeout(HANG_S):
        assert await text_of(reply) == "Yes, it clatters."
    assert inference.calls[1].closed and inference.calls[1].pulled == 0


async def test_a_checked_form_that_no_try_passes_shows_the_first_try() -> None:
    down = InferenceError("the model server is unreachable")
    inference = ScriptedInference(["Maybe it is loud. "], down, ["Perhaps. "])
    core = make_core(inference, ask={"retries": 2, "shaped": False})
    reply = await core.handle(line("!ask is a teletype loud, yes or no?", user="bob"))
    assert await text_of(reply) == "Maybe it is loud."
    assert len(inference.calls) == 3


async def test_many_racing_answers_all_end_and_leave_no_stream_open() -> None:
    """200 answers at once against a model that is slow at random, fails at random and
    echoes at random, a quarter of their readers leaving mid-answer: every answer ends
    (or is cancelled) and every stream it opened is closed."""
    rng = random.Random(5)
    opened: list[list[bool]] = []  # per stream: [closed]

    def source(attempt: int) -> AsyncIterator[str]:
        roll, pieces = rng.random(), rng.randint(1, 4)
        delays = [rng.random() / 200 for _ in range(pieces + 1)]

        async def stream() -> AsyncIterator[str]:
            state = [False]
            opened.append(state)
            try:
                for i in range(pieces):
                    await asyncio.sleep(delays[i])
                    if roll < 0.15:
                        raise InferenceError("the model server is unreachable")
                    yield "Hello there, chat. " if roll < 0.5 else f"Piece {i} of {attempt}. "
            finally:
                state[0] = True

        return stream()

    guard = Guard(Sources(("hello there, chat",)))

    async def one(n: int) -> None:
        reply = Reply.from_stream(line("!ask hm?", user=f"u{n}"), lambda r: Answer(
            guard, source, 200, 3).run(r))  # fmt: skip
        async for _ in reply.deltas():
            if n % 4 == 0:
                break  # the reader goes

    async with asyncio.timeout(HANG_S):
        await asyncio.gather(*(one(n) for n in range(200)))
    await asyncio.sleep(0.05)  # closed generators' cleanup settles
    assert len(opened) > 200 and all(state[0] for state in opened)


async def test_a_try_that_is_copying_a_chat_line_is_stopped_before_its_sentence_ends() -> None:
    """Word by word, as a model streams: the first try copies the chat line, and is
    stopped once eight words in a row are copied, not when its sentence ends."""
    copying = [w + " " for w in "So the run is glitchless any percent and the timer".split()]
    rest = [w + " " for w in "is fine and more and more and more.".split()]
    inference = ScriptedInference(copying + rest, ["A teletype prints. "], ["Unused. "])
    core = make_core(inference, ask={"retries": 1, "retry_together": False})
    await core.handle(line("the run is glitchless any percent and the timer is fine", user="alice"))
    reply = await core.handle(line("!ask how is the run?", user="bob", time=1))
    assert await text_of(reply) == "A teletype prints."
    first = inference.calls[0]
    assert first.closed and first.pulled == 9  # "So", then stopped at the eighth copied word


async def test_in_a_busy_channel_the_retries_go_one_at_a_time() -> None:
    """With others waiting (bot.ask.busy_after), a retry race would take batch slots
    they need: the second retry is not even started when the first passes."""
    echo = ["Hello there, chat."]
    inference = ScriptedInference(echo, ["A teletype prints."], echo, echo, ["Ok."])
    core = make_core(inference, ask={"retries": 2, "busy_after": 2}, channel_queue=5)
    await core.handle(line("hello there, chat", user="alice"))
    for _ in range(2):  # two more model commands pending in the channel: three in all
        assert core.queues.try_enter(line("x").key)
    reply = await core.handle(line("!ask what is a teletype?", user="bob", time=1))
    assert await text_of(reply) == "A teletype prints."
    assert len(inference.calls) == 2  # the first try and one retry: no race
    for _ in range(2):
        core.queues.leave(line("x").key)
    calm = await core.handle(line("!ask what is a teletype?", user="carol", time=2))
    assert await text_of(calm) == "Ok."
    assert len(inference.calls) == 5  # calm again: both retries at once


async def test_a_gpt2_try_that_begins_someone_elses_line_is_stopped_at_its_label() -> None:
    """Token by token: the first try ends the viewer's line and begins another
    speaker's; it is stopped as the label is followed by a space, not at its end."""
    new_turn = ["\n", "bob", ":", " the", " tape", " is", " out", " of", " paper", ".\n"]
    inference = ScriptedInference(new_turn, [" is running out\n"], ["Unused.\n"])
    core = make_core(inference, gpt2={"retries": 1, "retry_together": False})
    await core.handle(line("hello there, chat", user="bob"))
    reply = await core.handle(line("!gpt2 the paper tape", user="alice", time=1))
    assert await text_of(reply) == "the paper tape is running out"
    first = inference.calls[0]
    assert first.closed and first.pulled == 4  # "\n", "bob", ":", " the": stopped there
