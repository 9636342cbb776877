"""HTTP routes: parse, hand off to OpenAIServing, shape the answer. Nothing else."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import time
import zlib

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .audio import CONTENT_TYPES, EncoderError, encode, ffmpeg_available
from .backends.base import BackendError
from .backends.images import ImageJob
from .images import ImagesUnavailable
from .keys import IMAGES, MEDIA, METRICS, SERVING, SPEECH
from .media import CONTENT_TYPES as MEDIA_TYPES
from .protocol import (
    SSE_DONE,
    ApiError,
    ChatCompletionRequest,
    CompletionRequest,
    ImageRequest,
    SpeechRequest,
    error_body,
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
    serving = request.app[SERVING]
    if not _ready(request.app):
        raise ApiError(
            503, "not ready: the model is still loading", type="server_error", code="not_ready"
        )
    listing = serving.list_models()
    images = request.app.get(IMAGES)
    if images is not None and images.ready:  # only what can really be served
        listing["data"].append(
            {
                "id": images.settings.name,
                "object": "model",
                "created": int(time.time()),
                "owned_by": "literai",
                "capabilities": ["images"],
            }
        )
    return web.json_response(listing)


def _ready(app: web.Application) -> bool:
    """Every configured model loaded and every voice loaded or given up on."""
    speech, images = app.get(SPEECH), app.get(IMAGES)
    return (
        app[SERVING].ready
        and (speech is None or speech.load_finished)
        and (images is None or images.load_finished)
    )


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
    long_text = len(req.input) > service.settings.stream_above_chars
    streaming = req.stream or req.stream_format == "audio" or long_text
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
    except VoiceUnavailable as exc:
        raise ApiError(503, str(exc), type="server_error", code="voice_unavailable") from None
    except (BackendError, EncoderError) as exc:
        raise ApiError(500, f"speech failed: {exc}", type="server_error") from None


async def voices(request: web.Request) -> web.Response:
    service = request.app.get(SPEECH)
    data = service.describe() if service is not None else []
    return web.json_response({"object": "list", "data": data})


_SIZE = re.compile(r"^(\d{2,5})x(\d{2,5})$")


def _size(text: str, max_side: int) -> tuple[int, int]:
    match = _SIZE.fullmatch(text)
    if not match:
        raise ApiError(400, f"invalid value for 'size': {text!r} is not WIDTHxHEIGHT", param="size")
    width, height = int(match.group(1)), int(match.group(2))
    if not (64 <= width <= max_side and 64 <= height <= max_side):
        raise ApiError(
            400, f"invalid value for 'size': each side must be 64 to {max_side}", param="size"
        )
    if width % 8 or height % 8:
        raise ApiError(400, "invalid value for 'size': sides must be multiples of 8", param="size")
    return width, height


async def images(request: web.Request) -> web.Response:
    service = request.app.get(IMAGES)
    if service is not None and service.load_finished and not service.ready:
        raise ApiError(
            404,
            f"image generation is not available: {service.error}; check server.images.model",
            code="images_not_configured",
        )
    if service is None:
        raise ApiError(
            404,
            "image generation is not configured on this server: set server.images.model "
            "to a local diffusers model folder",
            code="images_not_configured",
        )
    req = parse_body(ImageRequest, await _read(request))
    s = service.settings
    if not req.prompt.strip():
        raise ApiError(400, "invalid value for 'prompt': it is empty", param="prompt")
    if len(req.prompt) > s.max_prompt_chars:
        raise ApiError(
            400,
            f"invalid value for 'prompt': {len(req.prompt)} characters; the limit is "
            f"{s.max_prompt_chars}",
            param="prompt",
        )
    if req.n > s.max_n:
        raise ApiError(400, f"invalid value for 'n': at most {s.max_n}", param="n")
    if req.model not in (None, s.name):
        raise ApiError(
            404,
            f"the model '{req.model}' does not exist; images come from '{s.name}'",
            param="model",
            code="model_not_found",
        )
    size = req.size if req.size not in (None, "auto") else s.default_size
    width, height = _size(size, s.max_side)
    try:
        job = ImageJob(
            req.prompt,
            n=req.n,
            width=width,
            height=height,
            steps=req.steps or s.steps,
            guidance=s.guidance_scale if req.guidance_scale is None else req.guidance_scale,
            seed=req.seed,
        )
        pngs = await service.generate(job)
    except ImagesUnavailable as exc:
        raise ApiError(
            503, f"images are unavailable: {exc}", type="server_error", code="images_unavailable"
        ) from None
    data: list[dict[str, object]] = []
    for png in pngs:
        if req.response_format == "b64_json":
            data.append({"b64_json": base64.b64encode(png).decode(), "revised_prompt": None})
        else:
            name = await asyncio.to_thread(request.app[MEDIA].put, png, "png")
            url = request.url.with_path(f"/media/{name}").with_query(None)
            data.append({"url": str(url), "revised_prompt": None})
    return web.json_response({"created": int(time.time()), "data": data})


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
    app.router.add_get("/media/{name}", media)
