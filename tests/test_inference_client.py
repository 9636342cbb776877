"""The core's inference client (the official openai package) against small local HTTP
peers that misbehave the ways real servers do: every failure becomes an
InferenceError whose text is fit for chat."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import openai
import pytest
from aiohttp import web

from literai_core.inference import Generation, InferenceError, OpenAIInference

GEN = Generation(max_tokens=8)
MESSAGES = [{"role": "user", "content": "hi"}]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _serve(handler: Handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    app.router.add_post("/v1/completions", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/v1"


async def _ask(base_url: str, limit_s: float = 5.0) -> str:
    async with openai.AsyncOpenAI(
        base_url=base_url, api_key="k", max_retries=0, timeout=limit_s
    ) as client:
        inference = OpenAIInference(client, "m")
        pieces: AsyncIterator[str] = inference.stream_chat(MESSAGES, GEN)
        return "".join([p async for p in pieces])


def _status(status: int) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        body = {"error": {"message": "no", "type": "x", "param": None, "code": None}}
        return web.json_response(body, status=status)

    return handler


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, "busy"),
        (503, "still waking up"),
        (401, "refused my key"),
        (400, "too big"),
        (500, "answered 500"),
    ],
)
async def test_error_statuses_become_chat_safe_reasons(status: int, expected: str) -> None:
    runner, url = await _serve(_status(status))
    try:
        with pytest.raises(InferenceError, match=expected):
            await _ask(url)
    finally:
        await runner.cleanup()


async def test_a_server_that_never_answers_times_out() -> None:
    async def stall(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response()

    runner, url = await _serve(stall)
    try:
        with pytest.raises(InferenceError, match="took too long"):
            await _ask(url, limit_s=0.5)
    finally:
        await runner.cleanup()


async def test_nobody_listening_is_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(InferenceError, match="unreachable"):
        await _ask(f"http://127.0.0.1:{port}/v1")


async def test_a_stream_cut_off_midway_is_an_inference_error() -> None:
    async def cut(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        chunk = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}],
        }
        await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        assert request.transport is not None
        request.transport.close()  # the server dies mid-answer
        return resp

    runner, url = await _serve(cut)
    try:
        with pytest.raises(InferenceError, match="unreachable"):
            await _ask(url)
    finally:
        await runner.cleanup()


async def test_garbage_instead_of_an_event_stream_is_an_inference_error() -> None:
    async def garbage(request: web.Request) -> web.Response:
        return web.Response(text="data: {not json\n\n", content_type="text/event-stream")

    runner, url = await _serve(garbage)
    try:
        with pytest.raises(InferenceError, match="could not read"):
            await _ask(url)
    finally:
        await runner.cleanup()


async def test_a_schema_goes_out_as_response_format_and_a_refusal_names_it() -> None:
    """The request carries the schema in OpenAI's shape; a 400 naming response_format
    (a server without structured outputs) comes back with that field, so the caller
    can ask again for free text."""
    bodies: list[dict[str, object]] = []

    async def handler(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        error = {"message": "no JSON here", "type": "invalid_request_error",
                 "param": "response_format", "code": None}  # fmt: skip
        return web.json_response({"error": error}, status=400)

    runner, url = await _serve(handler)
    schema = {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2}
    try:
        async with openai.AsyncOpenAI(base_url=url, api_key="k", max_retries=0) as client:
            inference = OpenAIInference(client, "m")
            with pytest.raises(InferenceError) as err:
                async for _ in inference.stream_chat(MESSAGES, Generation(8, schema=schema)):
                    pass
            with pytest.raises(InferenceError):  # no schema: none sent
                async for _ in inference.stream_chat(MESSAGES, GEN):
                    pass
    finally:
        await runner.cleanup()
    assert err.value.param == "response_format"
    spec = {"name": "answer", "schema": schema, "strict": True}
    assert bodies[0]["response_format"] == {"type": "json_schema", "json_schema": spec}
    assert "response_format" not in bodies[1]
