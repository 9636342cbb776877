"""The echo engine (inference_server/backends/echo.py) and the engine registry, without a
server: what the in-process protocol tests rely on it to do."""

from __future__ import annotations

import threading
import typing
from pathlib import Path

import pytest

from inference_server.app import build_backends
from inference_server.backends.base import (
    BadPrompt,
    CancelToken,
    ChatMessage,
    Delta,
    PromptTooLong,
    SamplingParams,
)
from inference_server.backends.echo import EchoBackend
from inference_server.backends.registry import ENGINES
from inference_server.settings import ConfigError, ModelSettings, ServerSettings


def _run(backend: EchoBackend, prompt: str | list[ChatMessage], **kw: object) -> list[Delta]:
    return list(backend.generate(prompt, SamplingParams(**kw), CancelToken()))  # type: ignore[arg-type]


def _text(deltas: list[Delta]) -> str:
    return "".join(d.text for d in deltas)


def test_it_repeats_the_last_user_message_a_word_a_token() -> None:
    chat = [
        ChatMessage("system", "You are a bot."),
        ChatMessage("user", "first question"),
        ChatMessage("assistant", "an answer"),
        ChatMessage("user", "say banana please"),
    ]
    deltas = _run(EchoBackend("e"), chat)
    assert [d.text for d in deltas] == ["say", " banana", " please", ""]
    assert [d.completion_tokens for d in deltas] == [1, 2, 3, 3]
    last = deltas[-1]
    assert last.finish_reason == "stop"  # the words ran out: its end of generation
    # The transcript's words: "system: You are a bot." ... "user: say banana please"
    # and the "assistant:" cue.
    assert last.prompt_tokens == 5 + 3 + 3 + 4 + 1


def test_a_raw_prompt_is_repeated_and_max_tokens_ignore_eos_and_stops_apply() -> None:
    echo = EchoBackend("e")
    assert _text(_run(echo, "one two three")) == "one two three"
    cut = _run(echo, "one two three", max_tokens=2)
    assert (_text(cut), cut[-1].finish_reason, cut[-1].completion_tokens) == (
        "one two",
        "length",
        2,
    )
    again = _run(echo, "one two", max_tokens=5, ignore_eos=True)
    assert _text(again) == "one two one two one" and again[-1].finish_reason == "length"
    stopped = _run(echo, "one two three four", stop=("ree",))
    assert _text(stopped) == "one two th" and stopped[-1].finish_reason == "stop"
    held = _run(echo, "one two", stop=("two three",))  # a partial match is given back
    assert _text(held) == "one two" and held[-1].finish_reason == "stop"
    empty = _run(echo, "")
    assert _text(empty) == "echo" and empty[-1].prompt_tokens == 1


def test_too_long_is_refused_like_the_llama_cpp_engine() -> None:
    echo = EchoBackend("e", n_ctx=10)
    with pytest.raises(PromptTooLong, match="the prompt is 10 tokens") as err:
        _run(echo, "w " * 10)
    assert err.value.param == "prompt" and err.value.code == "context_length_exceeded"
    with pytest.raises(PromptTooLong, match="max_tokens=9 plus the prompt's 2") as err:
        _run(echo, "two words", max_tokens=9)
    assert err.value.param == "max_tokens"
    assert _run(echo, "two words")[-1].completion_tokens == 2  # no max_tokens: the room
    with pytest.raises(BadPrompt, match="Unicode"):
        _run(echo, [ChatMessage("user", "hi \ud800")])


def test_cancel_ends_a_paced_generation_without_a_final_delta() -> None:
    echo = EchoBackend("e", token_delay_s=30.0)  # each word waits, unless cancelled
    cancel = CancelToken()
    timer = threading.Timer(0.05, cancel.cancel)
    timer.start()
    deltas = list(echo.generate("a b c", SamplingParams(), cancel))
    timer.join()
    assert deltas == []


def test_every_configurable_engine_has_a_builder(tmp_path: Path) -> None:
    engine = typing.get_type_hints(ModelSettings)["engine"]
    assert set(ENGINES) == set(typing.get_args(engine))
    settings = ServerSettings(
        default_model="e", models={"e": ModelSettings(engine="echo", n_ctx=512, slots=3)}
    )
    (echo,) = build_backends(settings).values()
    assert isinstance(echo, EchoBackend)
    assert (echo.name, echo.context_length, echo.max_parallel) == ("e", 512, 3)
    vllm = ServerSettings(default_model="v", models={"v": ModelSettings(engine="vllm")})
    with pytest.raises(ConfigError, match="hf_folder"):
        build_backends(vllm, tmp_path)
