"""Assemble the aiohttp app: routes, middlewares, engines that live and die with it."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path

from aiohttp import web

from .backends.base import TextBackend
from .backends.registry import build_backend
from .engine import Engine, QueueFull
from .images import ImageService
from .keys import API_KEY, IMAGES, MEDIA, METRICS, SERVING, SPEECH
from .media import MediaStore
from .metrics import ServerMetrics
from .protocol import ApiError, error_response
from .routes import setup_routes
from .serving import OpenAIServing
from .settings import ServerSettings
from .speech import SpeechService

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure leaves in OpenAI's error shape; a client mistake is never a 500."""
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except QueueFull as exc:  # any engine's bounded queue: text, speech or images
        return error_response(
            429,
            f"the server is busy ({exc}); try again shortly",
            "rate_limit_error",
            code="queue_full",
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(exc.status, exc.reason or "error")
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return error_response(500, "internal server error", type="server_error")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    key = request.app.get(API_KEY)
    if key and request.path.startswith("/v1/"):
        given = request.headers.get("Authorization", "")
        scheme, _, token = given.partition(" ")
        # Bytes, not str: compare_digest refuses non-ASCII str (a header may hold anything).
        sent = token.strip().encode("utf-8", "surrogateescape")
        if scheme.lower() != "bearer" or not hmac.compare_digest(sent, key.encode("utf-8")):
            return error_response(
                401,
                "missing or incorrect API key (send 'Authorization: Bearer <key>')",
                code="invalid_api_key",
            )
    return await handler(request)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except asyncio.CancelledError:
        status = 499  # the client went away
        raise
    finally:
        request.app[METRICS].requests.labels(route, str(status)).inc()


def build_backends(
    settings: ServerSettings,
    data_dir: Path | None = None,
    model_keys: Mapping[str, str] | None = None,
) -> dict[str, TextBackend]:
    """Backends from config, built by their engine's builder (backends/registry.py);
    raises ConfigError for a model that cannot be found. ``data_dir`` is where converted
    models live (``literai model convert``); ``model_keys`` are remote engines' keys, by
    alias."""
    keys = model_keys or {}
    return {
        alias: build_backend(alias, model, data_dir, keys.get(alias))
        for alias, model in settings.models.items()
    }


def create_app(
    settings: ServerSettings,
    backends: dict[str, TextBackend],
    *,
    speech: SpeechService | None = None,
    images: ImageService | None = None,
    on_load_error: Callable[[str], None] | None = None,
    api_key: str | None = None,
) -> web.Application:
    """The app; engines load in the background, so /health answers 503 until ready."""
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[metrics_middleware, errors_middleware, auth_middleware],
    )
    metrics = ServerMetrics()
    engines = {
        name: Engine(
            backend,
            max_queue=settings.max_queue,
            on_depth=metrics.queue_depth.labels(name).set,
        )
        for name, backend in backends.items()
    }
    for name, engine in engines.items():
        # Read at scrape time, so it counts tokens of runs still going (or cancelled).
        metrics.generated_tokens.labels(name).set_function(
            lambda engine=engine: engine.generated_tokens  # type: ignore[misc]
        )
    app[METRICS] = metrics
    app[SERVING] = OpenAIServing(engines, metrics, settings.stream_interval_ms)
    if api_key:  # read from the environment by the process layer, never from a file
        app[API_KEY] = api_key
    if speech is not None:
        app[SPEECH] = speech
    if images is not None:
        app[IMAGES] = images
    app[MEDIA] = MediaStore(Path(settings.media.folder), settings.media.max_bytes)
    setup_routes(app)

    async def engines_ctx(app: web.Application) -> AsyncIterator[None]:
        async def load(name: str, engine: Engine) -> None:
            try:
                await engine.load()
            except Exception as exc:
                engine.load_error = f"model {name!r} failed to load: {exc}"
                log.error("%s", engine.load_error)
                if on_load_error is not None:
                    on_load_error(engine.load_error)

        loading = [asyncio.create_task(load(n, e)) for n, e in engines.items()]
        if speech is not None:
            loading.append(asyncio.create_task(speech.load()))
        if images is not None:
            loading.append(asyncio.create_task(images.load()))
        yield
        for task in loading:
            task.cancel()
        await asyncio.gather(*loading, return_exceptions=True)
        for engine in engines.values():
            await engine.close()
        if speech is not None:
            await speech.close()
        if images is not None:
            await images.close()

    app.cleanup_ctx.append(engines_ctx)
    return app


async def start_server(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start listening; returns the runner (cleanup it to stop) and the bound port."""
    # handler_cancellation: a client that disconnects cancels its handler, which
    # cancels its generation at once.
    # shutdown_timeout: on stop, requests still generating get a moment, then are cancelled
    # (which stops their generation) instead of holding the process for a minute.
    # auto_decompress off: aiohttp's own inflater resets the connection on a broken gzip
    # body; the routes inflate bodies themselves (bounded) and answer 400 instead.
    runner = web.AppRunner(
        app,
        handler_cancellation=True,
        access_log=None,
        shutdown_timeout=2.0,
        auto_decompress=False,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else port
    return runner, int(bound)
