"""Log-probabilities through the real server and the official client: chat's
``logprobs``/``top_logprobs`` (whole and streamed), and the completions' ``logprobs`` and
``echo``, which score a text's own tokens, so perplexity can be measured through the API."""

from __future__ import annotations

import math

import openai
import pytest

from inference_server.backends.base import BadPrompt, CancelToken, ChatMessage, SamplingParams
from inference_server.backends.remote import RemoteOpenAI
from inference_server.protocol import ResponseFormat
from inference_server.structured import structure

from .kit import reference
from .kit.server import API_KEY, Server

pytestmark = pytest.mark.slow  # the model, in a subprocess

ASK = [{"role": "user", "content": "Name three colours."}]


def test_chat_logprobs_cover_the_answer_and_greedy_picks_the_top_one(
    client: openai.OpenAI,
) -> None:
    resp = client.chat.completions.create(
        model="smollm2", messages=ASK, temperature=0, max_tokens=12, logprobs=True,  # type: ignore[arg-type]
        top_logprobs=3,
    )  # fmt: skip
    reference.check("CreateChatCompletionResponse", resp.to_dict())  # as on the wire
    choice = resp.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content is not None
    entries = choice.logprobs.content
    assert len(entries) == resp.usage.completion_tokens  # type: ignore[union-attr]
    assert "".join(e.token for e in entries) == choice.message.content
    for e in entries:
        assert e.logprob <= 0 and bytes(e.bytes or []) == e.token.encode()
        tops = [t.logprob for t in e.top_logprobs]
        assert len(tops) == 3 and tops == sorted(tops, reverse=True)
        assert e.top_logprobs[0].token == e.token  # greedy: the likeliest token
        assert math.isclose(e.top_logprobs[0].logprob, e.logprob, abs_tol=1e-6)
    assert sum(math.exp(t) for t in tops) <= 1 + 1e-6  # a share of one distribution

    stream = client.chat.completions.create(
        model="smollm2", messages=ASK, temperature=0, max_tokens=12, logprobs=True,  # type: ignore[arg-type]
        top_logprobs=3, stream=True,
    )  # fmt: skip
    chunks = list(stream)
    for chunk in chunks:
        reference.check("CreateChatCompletionStreamResponse", chunk.to_dict())
    streamed = [e for c in chunks if c.choices and c.choices[0].logprobs
                for e in c.choices[0].logprobs.content or []]  # fmt: skip
    assert [(e.token, e.logprob) for e in streamed] == [(e.token, e.logprob) for e in entries]


def _score(client: openai.OpenAI, text: str) -> list[float]:
    resp = client.completions.create(
        model="smollm2", prompt=text, max_tokens=1, temperature=0, logprobs=2, echo=True
    )
    reference.check("CreateCompletionResponse", resp.to_dict())
    lp = resp.choices[0].logprobs
    assert lp is not None and lp.tokens and lp.token_logprobs and lp.text_offset is not None
    assert resp.choices[0].text.startswith(text)
    assert lp.token_logprobs[0] is None and lp.top_logprobs and lp.top_logprobs[0] is None
    assert all(len(t or {}) == 2 for t in lp.top_logprobs[1:])
    assert lp.text_offset == sorted(lp.text_offset)
    n_prompt = resp.usage.prompt_tokens  # type: ignore[union-attr]
    assert len(lp.tokens) == n_prompt + 1  # the prompt's tokens, then the one generated
    return [x for x in lp.token_logprobs[1:n_prompt] if x is not None]


def test_echo_scores_a_texts_own_tokens(lenient_client: openai.OpenAI) -> None:
    """A sentence is likelier to the model than its words shuffled: the prompt's scores
    are the model's, position by position (perplexity through the API). The first token
    has nothing before it: null, as OpenAI's API sends (the client's types say a number,
    so its strict validation is off here)."""
    client = lenient_client
    plain = _score(client, "The cat sat on the mat and went to sleep.")
    mixed = _score(client, "Sleep to mat the went sat cat on and the.")
    assert sum(plain) / len(plain) > sum(mixed) / len(mixed) + 0.5
    again = _score(client, "The cat sat on the mat and went to sleep.")
    assert again == pytest.approx(plain, abs=1e-4)  # no cached prefix changes them


def test_asking_top_logprobs_without_logprobs_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="smollm2", messages=ASK, top_logprobs=2)  # type: ignore[arg-type]
    assert err.value.param == "top_logprobs"
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="smollm2",
            messages=ASK,
            logprobs=True,
            top_logprobs=21,  # type: ignore[arg-type]
        )
    assert err.value.param == "top_logprobs"


def test_a_remote_engine_passes_logprobs_and_schemas_on(server: Server) -> None:
    """``engine: remote`` in front of literai's own server with the model: the upstream's
    log-probabilities come back per token, chat and completion, and a JSON schema is
    enforced upstream."""
    remote = RemoteOpenAI("upstream", server.v1, "smollm2", API_KEY, max_parallel=1)
    remote.load()
    try:
        for prompt in ([ChatMessage("user", "Name a colour.")], "The sky is"):
            params = SamplingParams(max_tokens=6, temperature=0, logprobs=2)
            deltas = list(remote.generate(prompt, params, CancelToken()))
            scores = [s for d in deltas for s in d.logprobs or []]
            assert "".join(s.text for s in scores) == "".join(d.text for d in deltas)
            assert all(s.logprob is not None and s.logprob <= 0 for s in scores)
            assert all(len(s.top) == 2 and s.top[0][0] == s.text for s in scores)
        fmt = ResponseFormat.model_validate({"type": "json_object"})
        held = SamplingParams(max_tokens=60, temperature=0.7, seed=1, structure=structure(fmt))
        text = "".join(d.text for d in remote.generate(
            [ChatMessage("user", "Describe a cat.")], held, CancelToken()))  # fmt: skip
        assert text.lstrip().startswith("{")
        with pytest.raises(BadPrompt, match="echo"):
            list(
                remote.generate(
                    "x", SamplingParams(logprobs=0, prompt_logprobs=True), CancelToken()
                )
            )
    finally:
        remote.close()
