"""Assemble the aiohttp app: backends from config (by engine name, backends/registry.py),
routes, middlewares (middlewares.py), and the engines and services that live and die
with it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

from aiohttp import web

from .backends.base import TextBackend
from .backends.registry import build_backend, vllm_loras
from .engine import Engine
from .images import ImageService
from .keys import API_KEY, EMBEDDINGS, IMAGES, MEDIA, METRICS, SERVING, SPEECH, TRANSCRIPTION
from .media import MediaStore
from .metrics import ServerMetrics
from .middlewares import MIDDLEWARES, browser_guard
from .routes import setup_routes
from .serving import OpenAIServing
from .serving_embeddings import EmbeddingServing
from .serving_images import ImageServing
from .serving_speech import SpeechServing
from .settings import ServerSettings
from .speech import SpeechService
from .training.trained import serve_trained
from .transcription import TranscriptionServing

log = logging.getLogger(__name__)


def build_backends(
    settings: ServerSettings,
    data_dir: Path | None = None,
    model_keys: Mapping[str, str] | None = None,
) -> dict[str, TextBackend]:
    """Backends from config and the trained models in ``data_dir``, built by their
    engine's builder (backends/registry.py); raises ConfigError for a model that cannot be
    found. ``data_dir`` is where converted and trained models live; ``model_keys`` are
    remote engines' keys, by alias."""
    keys = model_keys or {}
    trained, loras = serve_trained(settings.models, settings.trained_models, data_dir)
    models = {**settings.models, **trained}
    backends = {
        alias: build_backend(alias, model, data_dir, keys.get(alias))
        for alias, model in models.items()
    }
    for base, adapters in loras.items():  # vLLM: one engine, the adapters as its models
        backends.update(vllm_loras(backends[base], adapters))
    return backends


def create_app(
    settings: ServerSettings,
    backends: dict[str, TextBackend],
    *,
    speech: SpeechService | None = None,
    images: ImageService | None = None,
    on_load_error: Callable[[str], None] | None = None,
    api_key: str | None = None,
    data_dir: Path | None = None,
) -> web.Application:
    """The app; engines load in the background, so /health answers 503 until ready."""
    guard = browser_guard(settings.host, settings.allowed_hosts, settings.allowed_origins)
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[*MIDDLEWARES[:2], guard, *MIDDLEWARES[2:]],
    )
    metrics = ServerMetrics()
    engines = _engines(settings, backends, metrics)
    app[METRICS] = metrics
    app[SERVING] = OpenAIServing(engines, metrics, settings.stream_interval_ms)
    app[SPEECH] = SpeechServing(speech)
    app[IMAGES] = ImageServing(images)
    app[EMBEDDINGS] = embeddings = EmbeddingServing(settings.embeddings, data_dir)
    if api_key:  # read from the environment by the process layer, never from a file
        app[API_KEY] = api_key
    app[MEDIA] = MediaStore(Path(settings.media.folder), settings.media.max_bytes)
    setup_routes(app)
    app.cleanup_ctx.append(_lifetime(engines, speech, images, on_load_error))
    app.on_cleanup.append(lambda _: embeddings.close())
    app[TRANSCRIPTION] = transcription = TranscriptionServing(settings.transcription)
    app.on_cleanup.append(lambda _: transcription.close())
    return app


def _engines(
    settings: ServerSettings, backends: dict[str, TextBackend], metrics: ServerMetrics
) -> dict[str, Engine]:
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
    return engines


def _lifetime(
    engines: dict[str, Engine],
    speech: SpeechService | None,
    images: ImageService | None,
    on_load_error: Callable[[str], None] | None,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """The app's cleanup context: load everything in the background, close it on exit."""

    async def load(name: str, engine: Engine) -> None:
        try:
            await engine.load()
        except Exception as exc:
            engine.load_error = f"model {name!r} failed to load: {exc}"
            log.error("%s", engine.load_error)
            if on_load_error is not None:
                on_load_error(engine.load_error)

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
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

    return lifetime


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
