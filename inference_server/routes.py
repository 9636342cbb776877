"""HTTP routes: parse, hand off to OpenAIServing, shape the answer. Nothing else."""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .keys import METRICS, SERVING
from .protocol import (
    SSE_DONE,
    ApiError,
    ChatCompletionRequest,
    CompletionRequest,
    parse_body,
    sse,
)
from .serving import Request

log = logging.getLogger(__name__)


async def _read(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        limit = request.app._client_max_size
        raise ApiError(
            413,
            f"the request body is larger than this server's limit of {limit} bytes",
            code="request_too_large",
        ) from None


async def _answer(request: web.Request, req: Request) -> web.StreamResponse:
    serving = request.app[SERVING]
    if not req.stream:
        return web.json_response(await serving.complete(req))
    async with serving.start(req) as run:
        # Headers go out only now, after the first token: errors before it stay JSON.
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)
        try:
            async for chunk in serving.stream_chunks(req, run):
                await resp.write(sse(chunk))
            await resp.write(SSE_DONE)
            await resp.write_eof()
        except ConnectionResetError:
            # The client left mid-stream; leaving this block cancels its generation.
            log.debug("client went away during a stream")
        return resp


async def chat_completions(request: web.Request) -> web.StreamResponse:
    return await _answer(request, parse_body(ChatCompletionRequest, await _read(request)))


async def completions(request: web.Request) -> web.StreamResponse:
    return await _answer(request, parse_body(CompletionRequest, await _read(request)))


async def models(request: web.Request) -> web.Response:
    serving = request.app[SERVING]
    if not serving.ready:
        raise ApiError(
            503, "not ready: the model is still loading", type="server_error", code="not_ready"
        )
    return web.json_response(serving.list_models())


async def health(request: web.Request) -> web.Response:
    serving = request.app[SERVING]
    if serving.ready:
        return web.json_response({"status": "ok"})
    errors = [e.load_error for e in serving.engines.values() if e.load_error]
    body = {"status": "error" if errors else "loading", "detail": errors or None}
    return web.json_response(body, status=503)


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/completions", completions)
