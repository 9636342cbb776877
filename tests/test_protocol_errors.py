"""Errors on the wire, in-process on the echo engine (tests/server_inprocess.py): every
failure is OpenAI-shaped with the right status, code and param (401, 404, 405, 400 naming
the field, 413, 429, a stream that fails after its headers); a client that leaves stops
its generation; a full queue recovers. No model, no subprocess."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import httpx2 as httpx
import openai
import pytest

from inference_server.backends.base import (
    BackendError,
    CancelToken,
    ChatMessage,
    Delta,
    SamplingParams,
)
from inference_server.backends.echo import EchoBackend

from .kit.inprocess import (  # noqa: F401
    API_KEY,
    MODEL,
    SLOTS,
    EchoServer,
    echo_server_fixture,
    echo_settings,
    serve,
)

MSG = [{"role": "user", "content": "Name three colours."}]
HEADERS = {"Authorization": f"Bearer {API_KEY}"}
LABEL = f'model="{MODEL}"'
HOLD_S = 0.05  # per word, so a 1500-word answer holds its slot until it is cancelled


@pytest.fixture
def client(echo_server: EchoServer) -> openai.OpenAI:
    return echo_server.client(timeout=60)


def test_missing_or_wrong_api_key_is_401(echo_server: EchoServer) -> None:
    for key in ("wrong-key", ""):
        bad = openai.OpenAI(base_url=echo_server.v1, api_key=key or "x", max_retries=0)
        if not key:
            bad = openai.OpenAI(
                base_url=echo_server.v1,
                api_key="x",
                max_retries=0,
                default_headers={"Authorization": ""},
            )
        with pytest.raises(openai.AuthenticationError) as err:
            bad.chat.completions.create(model=MODEL, messages=MSG, max_tokens=2)  # type: ignore[arg-type]
        assert err.value.status_code == 401
        assert "API key" in err.value.message


def test_health_and_metrics_need_no_key(echo_server: EchoServer) -> None:
    assert httpx.get(echo_server.base_url + "/health").status_code == 200
    metrics = httpx.get(echo_server.base_url + "/metrics")
    assert metrics.status_code == 200
    assert "literai_requests_total" in metrics.text


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="gpt-9", messages=MSG, max_tokens=2)  # type: ignore[arg-type]
    assert err.value.code == "model_not_found"
    assert MODEL in err.value.message


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"temperature": 3}, "temperature"),
        ({"top_p": -0.1}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"n": 9}, "n"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"frequency_penalty": 9}, "frequency_penalty"),
        ({"presence_penalty": -9}, "presence_penalty"),
        ({"seed": "abc"}, "seed"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({"messages": []}, "messages"),
    ],
)
def test_out_of_range_parameters_are_400_naming_the_field(
    client: openai.OpenAI, extra: dict[str, object], param: str
) -> None:
    body = {"model": MODEL, "messages": MSG, "max_tokens": 2, **extra}
    with pytest.raises(openai.BadRequestError) as err:
        client.post("/chat/completions", body=body, cast_to=object)
    assert err.value.status_code == 400
    assert err.value.param == param
    assert param.split("[")[0] in err.value.message


def test_prompt_over_the_context_is_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.completions.create(model=MODEL, prompt="word " * 2500, max_tokens=4)
    assert err.value.code == "context_length_exceeded"
    assert err.value.param == "prompt"
    with pytest.raises(openai.BadRequestError) as err:
        client.completions.create(model=MODEL, prompt="hi", max_tokens=5000)
    assert err.value.param == "max_tokens"


def test_body_over_the_limit_is_413(echo_server: EchoServer) -> None:
    body = {"model": MODEL, "prompt": "x" * 70_000}
    resp = httpx.post(echo_server.v1 + "/completions", json=body, headers=HEADERS)
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "request_too_large"


def test_unknown_route_and_wrong_method_are_openai_shaped(echo_server: EchoServer) -> None:
    resp = httpx.get(echo_server.v1 + "/nothing-here", headers=HEADERS)
    assert resp.status_code == 404
    assert "message" in resp.json()["error"]
    resp = httpx.get(echo_server.v1 + "/chat/completions", headers=HEADERS)
    assert resp.status_code == 405
    assert "message" in resp.json()["error"]


def test_wrong_method_says_which_are_allowed(echo_server: EchoServer) -> None:
    resp = httpx.get(echo_server.v1 + "/completions", headers=HEADERS)
    assert resp.status_code == 405
    assert "POST" in resp.headers["Allow"]


class FailingEcho(EchoBackend):
    """Echoes two words, then fails as a broken model would, after the headers left."""

    def generate(
        self, prompt: str | list[ChatMessage], params: SamplingParams, cancel: CancelToken
    ) -> Iterator[Delta]:
        yield Delta("one", 1, prompt_tokens=1)
        yield Delta(" two", 2, prompt_tokens=1)
        raise BackendError("the model fell over")


def test_a_stream_that_fails_midway_ends_with_an_openai_error_event(tmp_path: Path) -> None:
    backend = FailingEcho(MODEL, max_parallel=SLOTS)
    with serve(echo_settings(tmp_path, stream_interval_ms=0), backend) as server:
        body = {"model": MODEL, "prompt": "Hello", "max_tokens": 8, "stream": True}
        resp = httpx.post(server.v1 + "/completions", json=body, headers=HEADERS, timeout=60)
        assert resp.status_code == 200  # the headers left with the first token
        events = [e for e in resp.text.split("\n\n") if e]
        assert events[-1] == "data: [DONE]"
        error = json.loads(events[-2][6:])
        assert error == {
            "error": {
                "message": "the model failed mid-stream",
                "type": "server_error",
                "param": None,
                "code": None,
            }
        }
        text = "".join(json.loads(e[6:])["choices"][0]["text"] for e in events[:-2])
        assert text == "one two"
        # Whole answers fail before any bytes: a JSON 500 in the same shape.
        whole = httpx.post(
            server.v1 + "/completions", json={**body, "stream": False}, headers=HEADERS
        )
        assert whole.status_code == 500
        assert whole.json()["error"]["type"] == "server_error"
        assert whole.json()["error"]["message"] == "the model failed: the model fell over"
        assert any("generation failed mid-stream" in line for line in server.logs)


# -- queueing and cancellation ------------------------------------------------------------


async def _open_stream(
    session: aiohttp.ClientSession, server: EchoServer
) -> aiohttp.ClientResponse:
    body = {
        "model": MODEL,
        "prompt": "Tell me a long story.",
        "max_tokens": 1500,
        "stream": True,
        "ignore_eos": True,
    }
    return await session.post(server.v1 + "/completions", json=body, headers=HEADERS)


async def _until(predicate: Callable[[], bool], limit_s: float = 30) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_client_disconnect_stops_generation(echo_server: EchoServer) -> None:
    echo_server.backend.token_delay_s = HOLD_S
    async with aiohttp.ClientSession() as session:
        resp = await _open_stream(session, echo_server)
        assert resp.status == 200
        for _ in range(3):
            await resp.content.readline()
        await _until(lambda: echo_server.metric("literai_requests_running", LABEL) == 1)
        resp.close()  # the viewer went away
        await _until(lambda: echo_server.metric("literai_requests_running", LABEL) == 0, 10)
    await _until(lambda: echo_server.backend.running == 0, 10)  # the generation returned
    generated = echo_server.metric("literai_engine_generated_tokens", LABEL)
    assert 0 < generated < 1500
    await asyncio.sleep(0.2)
    assert echo_server.metric("literai_engine_generated_tokens", LABEL) == generated


async def test_full_queue_is_429_and_the_server_recovers(echo_server: EchoServer) -> None:
    echo_server.backend.token_delay_s = HOLD_S
    async with aiohttp.ClientSession() as session:
        streams = [await _open_stream(session, echo_server) for _ in range(SLOTS)]
        for running in streams:  # together they hold every slot of the engine
            assert running.status == 200
            await running.content.readline()
        waiting = asyncio.ensure_future(_open_stream(session, echo_server))  # the queue (1)
        await _until(lambda: echo_server.metric("literai_queue_depth", LABEL) == 1)
        third = await session.post(
            echo_server.v1 + "/chat/completions",
            json={"model": MODEL, "messages": MSG, "max_tokens": 2},
            headers=HEADERS,
        )
        assert third.status == 429
        assert (await third.json())["error"]["code"] == "queue_full"
        streams[0].close()
        second = await waiting
        assert second.status == 200
        second.close()
        for running in streams[1:]:
            running.close()
    client = echo_server.client(timeout=60)
    resp = client.chat.completions.create(model=MODEL, messages=MSG, max_tokens=2)  # type: ignore[arg-type]
    assert resp.choices[0].message.content is not None
