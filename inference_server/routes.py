"""HTTP routes: read and parse the body, hand it to the serving object (OpenAIServing,
SpeechServing, ImageServing, EmbeddingServing, TranscriptionServing), write what it
returns. Nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .keys import EMBEDDINGS, IMAGES, MEDIA, METRICS, SERVING, SPEECH, TRANSCRIPTION
from .media import CONTENT_TYPES as MEDIA_TYPES
from .protocol import (
    SSE_DONE,
    ApiError,
    ChatCompletionRequest,
    CompletionRequest,
    error_body,
    parse_body,
    sse,
)
from .protocol_media import EmbeddingRequest, ImageRequest, SpeechRequest
from .serving import Request
from .serving_transcription import transcription

log = logging.getLogger(__name__)


async def _read(request: web.Request) -> bytes:
    try:
        return _inflate(await request.read(), request)
    except web.HTTPRequestEntityTooLarge:
        limit = request.app._client_max_size
        raise ApiError(
            413,
            f"the request body is larger than this server's limit of {limit} bytes",
            code="request_too_large",
        ) from None
    except web.RequestPayloadError as exc:  # e.g. a gzip body that is not gzip
        raise ApiError(400, f"the request body could not be read: {exc}") from None


def _inflate(body: bytes, request: web.Request) -> bytes:
    """Undo a gzip/deflate Content-Encoding, never past the body size limit."""
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise ApiError(415, f"unsupported Content-Encoding {encoding!r}; use gzip or none")
    limit = request.app._client_max_size
    inflater = zlib.decompressobj(wbits=47)  # 47: gzip or zlib, detected from the header
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise ApiError(400, f"the request body is not valid {encoding} data") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise ApiError(
            413,
            f"the request body inflates past this server's limit of {limit} bytes",
            code="request_too_large",
        )
    return out


async def _answer(request: web.Request, req: Request) -> web.StreamResponse:
    serving = request.app[SERVING]
    if not req.stream:
        return web.json_response(await serving.complete(req))
    async with serving.start_all(req) as runs:
        # Headers go out only now, after the first token: errors before it stay JSON.
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)
        try:
            async for chunk in serving.stream_all(req, runs):
                await resp.write(sse(chunk))
            await resp.write(SSE_DONE)
            await resp.write_eof()
        except ConnectionResetError:
            # The client left mid-stream; leaving this block cancels its generation.
            log.debug("client went away during a stream")
        except Exception:
            # Headers are gone: say it in the stream, in OpenAI's shape, then end it.
            log.exception("generation failed mid-stream")
            error = error_body("the model failed mid-stream", "server_error")
            with contextlib.suppress(ConnectionError):
                await resp.write(sse(error) + SSE_DONE)
                await resp.write_eof()
        return resp


async def chat_completions(request: web.Request) -> web.StreamResponse:
    return await _answer(request, parse_body(ChatCompletionRequest, await _read(request)))


async def completions(request: web.Request) -> web.StreamResponse:
    return await _answer(request, parse_body(CompletionRequest, await _read(request)))


async def models(request: web.Request) -> web.Response:
    if not _ready(request.app):
        raise ApiError(
            503, "not ready: the model is still loading", type="server_error", code="not_ready"
        )
    listing = request.app[SERVING].list_models()
    for card in (request.app[IMAGES].model_card(), request.app[EMBEDDINGS].model_card()):
        if card is not None:
            listing["data"].append(card)
    listing["data"] += request.app[TRANSCRIPTION].model_cards()
    return web.json_response(listing)


def _ready(app: web.Application) -> bool:
    """Every configured model loaded and every voice loaded or given up on."""
    return app[SERVING].ready and app[SPEECH].load_finished and app[IMAGES].load_finished


async def health(request: web.Request) -> web.Response:
    serving = request.app[SERVING]
    if _ready(request.app):
        return web.json_response({"status": "ok"})
    errors = [e.load_error for e in serving.engines.values() if e.load_error]
    body = {"status": "error" if errors else "loading", "detail": errors or None}
    return web.json_response(body, status=503)


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def speech(request: web.Request) -> web.StreamResponse:
    serving = request.app[SPEECH]
    serving.require()  # before the body: a server without speech says so to any body
    req = parse_body(SpeechRequest, await _read(request))
    async with serving.speak(req) as answer:
        headers = {"Content-Type": answer.content_type}
        if not answer.streaming:
            return web.Response(body=await answer.whole(), headers=headers)
        resp = web.StreamResponse(headers=headers)
        await resp.prepare(request)
        try:
            async for piece in answer.audio:
                await resp.write(piece)
            await resp.write_eof()
        except ConnectionResetError:
            log.debug("client went away during speech")
        return resp


async def voices(request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": request.app[SPEECH].voices()})


async def images(request: web.Request) -> web.Response:
    serving = request.app[IMAGES]
    serving.require()  # before the body, as for speech
    req = parse_body(ImageRequest, await _read(request))

    async def publish(png: bytes) -> str:
        try:
            name = await asyncio.to_thread(request.app[MEDIA].put, png, "png")
        except OSError as exc:  # a full disk: said, and the server goes on
            raise ApiError(
                503,
                f"the image was made but cannot be stored ({exc.strerror or exc}); "
                "ask for response_format b64_json, or free disk space",
                type="server_error",
                code="media_store_failed",
            ) from None
        return str(request.url.with_path(f"/media/{name}").with_query(None))

    return web.json_response(await serving.generate(req, publish))


async def embeddings(request: web.Request) -> web.Response:
    serving = request.app[EMBEDDINGS]
    serving.require()  # before the body, as for speech
    req = parse_body(EmbeddingRequest, await _read(request))
    return web.json_response(await serving.embed(req))


async def transcriptions(request: web.Request) -> web.Response:
    return await transcription(request, request.app[TRANSCRIPTION])


async def media(request: web.Request) -> web.StreamResponse:
    store = request.app[MEDIA]
    path = await asyncio.to_thread(store.path, request.match_info["name"])
    if path is None:
        raise ApiError(404, "no such media file", code="media_not_found")
    ext = path.suffix.lstrip(".")
    return web.FileResponse(
        path,
        headers={"Content-Type": MEDIA_TYPES[ext], "Cache-Control": "public, max-age=31536000"},
    )


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/audio/speech", speech)
    app.router.add_get("/v1/audio/voices", voices)
    app.router.add_post("/v1/images/generations", images)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_post("/v1/audio/transcriptions", transcriptions)
    app.router.add_get("/media/{name}", media)
