"""The OpenAI protocol end to end, in-process on the echo engine (tests/server_inprocess.py):
answer and stream shapes, [DONE], usage, stops and defaults, every error's status and
shape, a full queue, a client that leaves. Through the official openai client, and raw
HTTP where the client would hide what is on the wire. No model, no subprocess: what
needs the real model is in test_server.py."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx2 as httpx
import openai
import pytest

from .kit import reference
from .kit.inprocess import API_KEY, MODEL, EchoServer, echo_server_fixture  # noqa: F401
from .kit.server import assert_stream_matches

MSG = [{"role": "user", "content": "Name three colours, please."}]
MSG_PROMPT_TOKENS = 6  # "user: Name three colours, please." and "assistant:"


@pytest.fixture
def client(echo_server: EchoServer) -> openai.OpenAI:
    return echo_server.client(timeout=60)


@pytest.fixture
def lenient_client(echo_server: EchoServer) -> Iterator[openai.OpenAI]:
    yield echo_server.client(strict=False, timeout=60)


def test_models_lists_the_configured_alias(client: openai.OpenAI) -> None:
    models = client.models.list()
    assert [m.id for m in models.data] == [MODEL]
    assert models.data[0].owned_by == "literai"


def test_chat_non_streaming_has_ids_usage_and_finish(client: openai.OpenAI) -> None:
    before = time.time()
    resp = client.chat.completions.create(
        model=MODEL, messages=MSG, max_tokens=8, temperature=0, extra_body={"ignore_eos": True}
    )  # type: ignore[call-overload]
    assert resp.id.startswith("chatcmpl-")
    assert resp.object == "chat.completion"
    assert abs(resp.created - before) < 30
    assert resp.model == MODEL
    choice = resp.choices[0]
    assert choice.finish_reason == "length"
    assert choice.message.role == "assistant"
    assert choice.message.content == "Name three colours, please. Name three colours, please."
    assert resp.usage is not None
    assert resp.usage.completion_tokens == 8
    assert resp.usage.prompt_tokens == MSG_PROMPT_TOKENS
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + 8


def test_chat_natural_stop_is_finish_stop(client: openai.OpenAI) -> None:
    resp = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Say just: yes"}], max_tokens=200
    )
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None and resp.usage.completion_tokens == 3 < 200


def test_chat_streaming_matches_non_streaming_and_reports_usage(client: openai.OpenAI) -> None:
    args = {"model": MODEL, "messages": MSG, "max_tokens": 24, "temperature": 0}
    whole = client.chat.completions.create(**args)  # type: ignore[call-overload]
    stream = client.chat.completions.create(
        **args, stream=True, stream_options={"include_usage": True}
    )  # type: ignore[call-overload]
    assert_stream_matches(list(stream), whole)


def test_stream_ends_with_done_on_the_wire(echo_server: EchoServer) -> None:
    body = {"model": MODEL, "prompt": "Hello", "max_tokens": 4, "stream": True}
    headers = {"Authorization": f"Bearer {API_KEY}"}
    resp = httpx.post(echo_server.v1 + "/completions", json=body, headers=headers, timeout=60)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = [e for e in resp.text.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events)
    assert json.loads(events[0][6:])["object"] == "text_completion"


def test_completions_stream_and_whole_agree(
    client: openai.OpenAI, lenient_client: openai.OpenAI
) -> None:
    args = {"model": MODEL, "prompt": "The teletype printed", "max_tokens": 20, "temperature": 0}
    whole = client.completions.create(**args)  # type: ignore[call-overload]
    assert whole.object == "text_completion"
    assert whole.id.startswith("cmpl-")
    streamed = "".join(
        c.choices[0].text for c in lenient_client.completions.create(**args, stream=True)
    )  # type: ignore[call-overload]
    assert streamed == whole.choices[0].text == "The teletype printed"
    assert whole.usage is not None and whole.usage.prompt_tokens == 3


def test_completions_default_max_tokens_is_16(client: openai.OpenAI) -> None:
    resp = client.completions.create(
        model=MODEL, prompt="Once upon a time", extra_body={"ignore_eos": True}
    )
    assert resp.usage is not None and resp.usage.completion_tokens == 16


def test_stop_sequence_cuts_before_the_stop(
    client: openai.OpenAI, lenient_client: openai.OpenAI
) -> None:
    args = {"model": MODEL, "prompt": "Count: one, two, three,", "max_tokens": 24}
    free = client.completions.create(**args).choices[0].text  # type: ignore[call-overload]
    words = free.split()
    assert len(words) >= 3, free
    stop = words[2]
    cut = client.completions.create(**args, stop=[stop, "zzzz"])  # type: ignore[call-overload]
    assert cut.choices[0].finish_reason == "stop"
    assert cut.choices[0].text == free[: free.index(stop)] == "Count: one, "
    streamed = "".join(
        c.choices[0].text
        for c in lenient_client.completions.create(**args, stop=stop, stream=True)  # type: ignore[call-overload]
    )
    assert streamed == cut.choices[0].text


def test_penalties_top_p_and_user_are_accepted(client: openai.OpenAI) -> None:
    resp = client.chat.completions.create(
        model=MODEL,
        messages=MSG,
        max_tokens=8,
        top_p=0.5,
        frequency_penalty=1.5,
        presence_penalty=-0.5,
        user="viewer-42",
        n=1,
    )
    assert resp.choices[0].message.content is not None


def test_empty_prompt_and_null_defaults_are_fine(client: openai.OpenAI) -> None:
    resp = client.completions.create(model=MODEL, prompt="", max_tokens=4)
    assert resp.usage is not None and resp.usage.prompt_tokens >= 1
    body = {
        "model": MODEL,
        "messages": MSG,
        "max_tokens": 2,
        "temperature": None,
        "top_p": None,
        "n": None,
        "stream": None,
        "presence_penalty": None,
    }
    answer = client.post("/chat/completions", body=body, cast_to=object)
    assert answer["choices"][0]["finish_reason"] in ("stop", "length")  # type: ignore[index]


def test_every_answer_is_valid_by_the_reference_whole_and_streamed(
    echo_server: EchoServer,
) -> None:
    """Whole and streamed, chat and completion: validated by an independent validator
    against the component schemas of OpenAI's own API reference (tests/fixtures), with
    nullable fields present as null (message.refusal, choice.logprobs)."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    cases = [("chat/completions", {"messages": MSG}, "CreateChatCompletionResponse",
              "CreateChatCompletionStreamResponse"),
             ("completions", {"prompt": "one two three"}, "CreateCompletionResponse",
              reference.STREAMED_COMPLETION)]  # fmt: skip
    for route, body, whole, part in cases:
        url = f"{echo_server.v1}/{route}"
        full = {"model": MODEL, **body, "stream_options": None}
        resp = httpx.post(url, json=full, headers=headers, timeout=60)
        reference.check(whole, resp.json())
        if route == "chat/completions":
            assert resp.json()["choices"][0]["message"]["refusal"] is None
        streamed = {**full, "stream": True, "stream_options": {"include_usage": True}}
        resp = httpx.post(url, json=streamed, headers=headers, timeout=60)
        events = [ln[6:] for ln in resp.text.splitlines() if ln.startswith("data: ")]
        assert events[-1] == "[DONE]"
        for event in events[:-1]:
            reference.check(part, json.loads(event))
        fingerprints = {json.loads(e)["system_fingerprint"] for e in events[:-1]}
        assert len(fingerprints) == 1 and fingerprints.pop().startswith("fp_")
    models = httpx.get(f"{echo_server.v1}/models", headers=headers, timeout=60)
    reference.check("ListModelsResponse", models.json())
    bad = httpx.post(f"{echo_server.v1}/chat/completions", json={"model": MODEL}, headers=headers)
    assert bad.status_code == 400
    reference.check("ErrorResponse", bad.json())


def test_the_reference_check_catches_what_it_should() -> None:
    """The validator is not a no-op: a missing required field, a wrong type and a
    non-null where the reference wants an object or null all fail."""
    good = {"id": "x", "object": "chat.completion", "created": 1, "model": "m", "choices": [
        {"index": 0, "finish_reason": "stop", "logprobs": None,
         "message": {"role": "assistant", "content": "hi", "refusal": None}}]}  # fmt: skip
    reference.check("CreateChatCompletionResponse", good)
    choice = good["choices"][0]  # type: ignore[index]
    no_model = {k: v for k, v in good.items() if k != "model"}
    scored = {"text": "ab", "index": 0, "finish_reason": "stop", "logprobs": {
        "tokens": ["a", "b"], "token_logprobs": [None, -1.0], "text_offset": [0, 1],
        "top_logprobs": [None, {"b": -1.0}]}}  # fmt: skip
    whole = {"id": "x", "object": "text_completion", "created": 1, "model": "m"}
    reference.check("CreateCompletionResponse", {**whole, "choices": [scored]})  # echoed
    late = {**scored, "logprobs": {**scored["logprobs"], "token_logprobs": [-1.0, None]}}
    with pytest.raises(AssertionError, match="not a valid"):  # only the first is unscored
        reference.check("CreateCompletionResponse", {**whole, "choices": [late]})
    unscored = {k: v for k, v in choice.items() if k != "logprobs"}
    for broken in ({**good, "created": "now"}, {**good, "choices": [{**choice, "logprobs": 3}]},
                   no_model, {**good, "choices": [unscored]}):  # fmt: skip
        with pytest.raises(AssertionError, match="not a valid"):
            reference.check("CreateChatCompletionResponse", broken)


def test_a_completion_with_echo_starts_with_its_prompt(
    client: openai.OpenAI, lenient_client: openai.OpenAI
) -> None:
    whole = client.completions.create(model=MODEL, prompt="one two", echo=True, max_tokens=2)
    assert whole.choices[0].text == "one twoone two"
    # A streamed completion's chunks have finish_reason null until the last, as on
    # OpenAI's API; the client's strict types refuse that, so this one reads leniently.
    stream = lenient_client.completions.create(
        model=MODEL, prompt="one two", echo=True, max_tokens=2, stream=True
    )
    chunks = list(stream)
    assert chunks[0].choices[0].text == "one two"
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "one twoone two"
    with pytest.raises(openai.BadRequestError) as err:  # the echo engine has no scores
        client.completions.create(model=MODEL, prompt="one two", logprobs=1)
    assert err.value.param == "logprobs"


def test_n_choices_come_whole_and_streamed_each_with_its_index(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model=MODEL, messages=MSG, n=3)  # type: ignore[arg-type]
    assert [c.index for c in whole.choices] == [0, 1, 2]
    assert {c.message.content for c in whole.choices} == {"Name three colours, please."}
    assert whole.usage is not None and whole.usage.completion_tokens == 3 * 4
    assert whole.usage.prompt_tokens == MSG_PROMPT_TOKENS  # the prompt counted once
    stream = client.chat.completions.create(
        model=MODEL, messages=MSG, n=3, stream=True, stream_options={"include_usage": True},  # type: ignore[arg-type]
    )  # fmt: skip
    texts = ["", "", ""]
    usages = []
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
        if chunk.usage is not None:
            usages.append(chunk.usage.completion_tokens)
    assert texts == ["Name three colours, please."] * 3 and usages == [12]


def test_more_choices_than_the_model_takes_at_once_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:  # 2 slots and a queue of 1 here
        client.chat.completions.create(model=MODEL, messages=MSG, n=4)  # type: ignore[arg-type]
    assert err.value.param == "n" and "at most 3" in err.value.message
