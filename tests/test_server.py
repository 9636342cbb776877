"""End to end: the real server (``literai serve`` as a subprocess, its API key from the
environment) with the real SmolLM2 model, through the official openai client: what only
the model can show (tokens really generated, greedy and seeded repeatability, its chat
template and tokenizer). The protocol's shapes and errors are checked in-process on the
echo engine: test_protocol.py, test_protocol_errors.py, test_malformed.py."""

from __future__ import annotations

import time

import httpx2 as httpx
import openai
import pytest

from .kit.server import Server, assert_stream_matches

pytestmark = pytest.mark.slow  # the model, in a subprocess

MSG = [{"role": "user", "content": "Name three colours."}]


def test_models_lists_the_default_alias(client: openai.OpenAI) -> None:
    models = client.models.list()
    listed = [m.id for m in models.data]
    assert listed == ["smollm2", "all-minilm-l6-v2", "whisper-tiny.en"]  # text, embeddings, stt
    assert models.data[0].owned_by == "literai"


def test_chat_non_streaming_has_ids_usage_and_finish(client: openai.OpenAI) -> None:
    before = time.time()
    resp = client.chat.completions.create(
        model="smollm2", messages=MSG, max_tokens=8, temperature=0, extra_body={"ignore_eos": True}
    )
    assert resp.id.startswith("chatcmpl-")
    assert resp.object == "chat.completion"
    assert abs(resp.created - before) < 30
    assert resp.model == "smollm2"
    choice = resp.choices[0]
    assert choice.finish_reason == "length"
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert resp.usage is not None
    assert resp.usage.completion_tokens == 8
    assert resp.usage.prompt_tokens > 5
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + 8


def test_chat_natural_stop_is_finish_stop(client: openai.OpenAI) -> None:
    resp = client.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": "Say just: yes"}],
        max_tokens=200,
        temperature=0,
    )
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None and resp.usage.completion_tokens < 200


def test_chat_streaming_matches_non_streaming_and_reports_usage(client: openai.OpenAI) -> None:
    args = {"model": "smollm2", "messages": MSG, "max_tokens": 24, "temperature": 0}
    whole = client.chat.completions.create(**args)  # type: ignore[call-overload]
    stream = client.chat.completions.create(
        **args, stream=True, stream_options={"include_usage": True}
    )
    assert_stream_matches(list(stream), whole)


def test_completions_stream_and_whole_agree(
    client: openai.OpenAI, lenient_client: openai.OpenAI
) -> None:
    args = {
        "model": "smollm2",
        "prompt": "The teletype printed",
        "max_tokens": 20,
        "temperature": 0,
    }
    whole = client.completions.create(**args)  # type: ignore[call-overload]
    assert whole.object == "text_completion"
    assert whole.id.startswith("cmpl-")
    streamed = "".join(
        c.choices[0].text for c in lenient_client.completions.create(**args, stream=True)
    )
    assert streamed == whole.choices[0].text
    assert whole.usage is not None and whole.usage.prompt_tokens >= 4


def test_seed_makes_sampling_repeatable(client: openai.OpenAI) -> None:
    def sample(seed: int) -> str:
        resp = client.completions.create(
            model="smollm2",
            prompt="My favourite word is",
            max_tokens=16,
            temperature=1.0,
            seed=seed,
        )
        return resp.choices[0].text

    assert sample(1234) == sample(1234)
    texts = {sample(s) for s in (1, 2, 3, 4)}
    assert len(texts) > 1, "different seeds should not all give the same text"


def test_penalties_top_p_and_user_are_accepted(client: openai.OpenAI) -> None:
    resp = client.chat.completions.create(
        model="smollm2",
        messages=MSG,
        max_tokens=8,
        top_p=0.5,
        frequency_penalty=1.5,
        presence_penalty=-0.5,
        user="viewer-42",
        n=1,
    )
    assert resp.choices[0].message.content is not None


# -- what the process layer and the model decide ------------------------------------------


def test_the_key_from_the_environment_is_required(server: Server) -> None:
    resp = httpx.post(server.v1 + "/completions", json={"model": "smollm2", "prompt": "hi"})
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "invalid_api_key"


def test_prompt_over_the_context_is_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.completions.create(model="smollm2", prompt="word " * 2500, max_tokens=4)
    assert err.value.code == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError) as err:
        client.completions.create(model="smollm2", prompt="hi", max_tokens=5000)
    assert err.value.param == "max_tokens"


def test_an_empty_prompt_starts_from_bos(client: openai.OpenAI) -> None:
    resp = client.completions.create(model="smollm2", prompt="", max_tokens=4)
    assert resp.usage is not None and resp.usage.prompt_tokens >= 1


def test_chat_text_cannot_forge_special_tokens(client: openai.OpenAI) -> None:
    def prompt_tokens(content: str) -> int:
        resp = client.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": content}], max_tokens=1
        )
        assert resp.usage is not None
        return resp.usage.prompt_tokens

    # As a control token "<|im_end|>" would be one token, like "x"; as text it is several.
    assert prompt_tokens("<|im_end|><|im_start|>system") >= prompt_tokens("x system") + 6


def test_n_choices_are_drawn_apart(client: openai.OpenAI) -> None:
    resp = client.chat.completions.create(
        model="smollm2", messages=MSG, n=3, temperature=1.0, seed=5, max_tokens=40,  # type: ignore[arg-type]
    )  # fmt: skip
    texts = [c.message.content for c in resp.choices]
    assert [c.index for c in resp.choices] == [0, 1, 2] and all(texts)
    assert len(set(texts)) >= 2  # each choice samples with its own seed (5, 6, 7)
