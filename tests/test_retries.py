"""An answer written again: the retries of ``!ask`` and ``!gpt2`` run at once, the first
to pass a sentence is shown and the others are stopped; one after another where the
config says so; a retry that fails while another answers costs nothing."""

from __future__ import annotations

import asyncio

from literai_core.inference import InferenceError

from .kit.chat import line, make_core, text_of
from .kit.scripted import ScriptedInference

ECHO = ["Hello there, chat. ", "More."]  # the chat line below: the guard stops it
HANG_S = 30  # retries one after another would wait for the slow one forever


async def test_the_retries_run_at_once_and_the_first_to_pass_is_shown() -> None:
    still_writing = asyncio.Event()  # never set: the first retry is slow
    slow = [still_writing, "A slow answer. "]
    fast = ["A teletype is a printing telegraph. "]
    inference = ScriptedInference(ECHO, slow, fast)
    core = make_core(inference, ask={"retries": 2})
    await core.handle(line("hello there, chat", user="alice"))
    reply = await core.handle(line("!ask what is a teletype?", user="bob", time=1))
    async with asyncio.timeout(HANG_S):
        assert await text_of(reply) == "A teletype is a printing telegraph."
    first, retry1, retry2 = inference.calls
    assert retry1.closed and retry1.pulled == 0, "the slow retry is stopped, not waited for"
    assert retry2.gen.frequency_penalty > retry1.gen.frequency_penalty > first.gen.frequency_penalty


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
    inference = ScriptedInference(ECHO, down, ECHO)
    core = make_core(inference, ask={"retries": 2})
    await core.handle(line("hello there, chat", user="alice"))
    reply = await core.handle(line("!ask what is a teletype?", user="bob", time=1))
    assert await text_of(reply) == (
        "Sorry, I can't answer right now: the model server is unreachable. "
        "Please try again in a minute."
    )


async def test_retries_one_after_another_where_the_config_says_so() -> None:
    inference = ScriptedInference(ECHO, ["A teletype prints. "])  # no third answer queued
    core = make_core(inference, ask={"retries": 2, "retry_together": False})
    await core.handle(line("hello there, chat", user="alice"))
    reply = await core.handle(line("!ask what is a teletype?", user="bob", time=1))
    assert await text_of(reply) == "A teletype prints."
    assert len(inference.calls) == 2  # the second retry was never asked for
