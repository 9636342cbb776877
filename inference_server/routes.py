"""HTTP routes: parse, hand off to OpenAIServing, shape the answer. Nothing else."""

from __future__ import annotations

import contextlib
import logging
import zlib

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .audio import CONTENT_TYPES, EncoderError, encode, ffmpeg_available
from .backends.base import BackendError
from .engine import QueueFull
from .keys import METRICS, SERVING, SPEECH
from .protocol import (
    SSE_DONE,
    ApiError,
    ChatCompletionRequest,
    CompletionRequest,
    SpeechRequest,
    parse_body,
    sse,
)
from .serving import Request
from .speech import VoiceUnavailable

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
        except Exception:
            # Headers are gone: say it in the stream, in OpenAI's shape, then end it.
            log.exception("generation failed mid-stream")
            error = {
                "message": "the model failed mid-stream",
                "type": "server_error",
                "param": None,
                "code": None,
            }
            with contextlib.suppress(ConnectionError):
                await resp.write(sse({"error": error}) + SSE_DONE)
                await resp.write_eof()
        return resp


async def chat_completions(request: web.Request) -> web.StreamResponse:
    return await _answer(request, parse_body(ChatCompletionRequest, await _read(request)))


async def completions(request: web.Request) -> web.StreamResponse:
    return await _answer(request, parse_body(CompletionRequest, await _read(request)))


async def models(request: web.Request) -> web.Response:
    serving = request.app[SERVING]
    if not _ready(request.app):
        raise ApiError(
            503, "not ready: the model is still loading", type="server_error", code="not_ready"
        )
    return web.json_response(serving.list_models())


def _ready(app: web.Application) -> bool:
    """Every configured model loaded and every voice loaded or given up on."""
    speech = app.get(SPEECH)
    return app[SERVING].ready and (speech is None or speech.load_finished)


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
    service = request.app.get(SPEECH)
    if service is None:
        raise ApiError(
            404,
            "speech is not configured on this server (set server.speech.enabled)",
            code="speech_not_configured",
        )
    req = parse_body(SpeechRequest, await _read(request))
    if not req.input.strip():
        raise ApiError(400, "invalid value for 'input': it is empty", param="input")
    limit = service.settings.max_input_chars
    if len(req.input) > limit:
        raise ApiError(
            400,
            f"invalid value for 'input': {len(req.input)} characters; the limit is {limit}",
            param="input",
        )
    voice = service.resolve(req.voice)
    if voice is None:
        raise ApiError(
            400,
            f"invalid value for 'voice': unknown voice {req.voice!r}; this server has: "
            f"{', '.join(service.names())} (see /v1/audio/voices)",
            param="voice",
        )
    if req.stream_format == "sse":
        raise ApiError(
            400, "stream_format 'sse' is not supported; use 'audio'", param="stream_format"
        )
    if req.response_format not in ("wav", "pcm") and not ffmpeg_available():
        raise ApiError(
            400,
            f"response_format {req.response_format!r} needs ffmpeg on the server; "
            "use 'wav' or 'pcm'",
            param="response_format",
        )
    streaming = req.stream or req.stream_format == "audio"
    content_type = CONTENT_TYPES[req.response_format]
    try:
        async with service.synthesis(voice, req.input, req.speed) as (rate, pcm):
            audio = encode(pcm, req.response_format, rate, streaming=streaming)
            if not streaming:
                body = b"".join([piece async for piece in audio])
                return web.Response(body=body, headers={"Content-Type": content_type})
            resp = web.StreamResponse(headers={"Content-Type": content_type})
            await resp.prepare(request)
            try:
                async for piece in audio:
                    await resp.write(piece)
                await resp.write_eof()
            except ConnectionResetError:
                log.debug("client went away during speech")
            return resp
    except QueueFull as exc:
        raise ApiError(
            429,
            f"the speech engine is busy ({exc}); try again shortly",
            type="rate_limit_error",
            code="queue_full",
        ) from None
    except VoiceUnavailable as exc:
        raise ApiError(503, str(exc), type="server_error", code="voice_unavailable") from None
    except (BackendError, EncoderError) as exc:
        raise ApiError(500, f"speech failed: {exc}", type="server_error") from None


async def voices(request: web.Request) -> web.Response:
    service = request.app.get(SPEECH)
    data = service.describe() if service is not None else []
    return web.json_response({"object": "list", "data": data})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/audio/speech", speech)
    app.router.add_get("/v1/audio/voices", voices)
