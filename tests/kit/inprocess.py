"""literai's real app and HTTP stack in this process, on the echo engine: no model and
no subprocess. ``create_app`` + ``start_server`` on 127.0.0.1, port 0, run on an event
loop of their own in a thread, so sync tests (httpx, the sync ``openai`` client) and
async ones (aiohttp, ``AsyncOpenAI``) talk to it over real loopback HTTP, as they would
to ``literai serve``.

A test module registers the ``echo_server`` fixture by importing it:
``from .kit.inprocess import echo_server_fixture  # noqa: F401``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from aiohttp import web

from inference_server.app import create_app, start_server
from inference_server.backends.base import TextBackend
from inference_server.backends.echo import EchoBackend
from inference_server.engine import Engine
from inference_server.keys import SERVING
from inference_server.settings import ServerSettings
from inference_server.speech import build_speech

from .server import ApiPeer

MODEL = "echo"  # the echo engine's alias
API_KEY = "test-key-not-secret"
SLOTS = 2  # generations at once
MAX_QUEUE = 1
MAX_BODY = 65536


class _Records(logging.Handler):
    """Every line the server logs while it runs (the API key must be in none)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class EchoServer(ApiPeer):
    base_url: str
    api_key: str | None
    app: web.Application
    backend: Any  # the EchoBackend (or the test's own backend)
    logs: list[str] = field(default_factory=list)

    @property
    def engine(self) -> Engine:
        return self.app[SERVING].engines[MODEL]


def echo_settings(tmp: Path, **server: Any) -> ServerSettings:
    """Settings for one echo model (SLOTS at once, MAX_QUEUE waiting, bodies up to
    MAX_BODY), speech, embeddings and transcription off, media under ``tmp``; ``server``
    overrides any of it."""
    base: dict[str, Any] = {
        "port": 0,
        "default_model": MODEL,
        "models": {MODEL: {"engine": "echo", "slots": SLOTS}},
        "max_body_bytes": MAX_BODY,
        "max_queue": MAX_QUEUE,
        "speech": {"enabled": False},
        "embeddings": {"enabled": False},
        "transcription": {"enabled": False},
        "media": {"folder": str(tmp / "media")},
    }
    return ServerSettings.model_validate({**base, **server})


@contextmanager
def serve(
    settings: ServerSettings, backend: TextBackend, api_key: str | None = API_KEY
) -> Iterator[EchoServer]:
    """The app on ``backend`` (under the alias MODEL), listening and loaded, until the
    block ends; then stopped, and its loop and thread with it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="echo-server", daemon=True)
    records = _Records()
    logger = logging.getLogger("inference_server")  # the server's every line, debug too
    level = logger.level
    logger.addHandler(records)
    logger.setLevel(logging.DEBUG)
    thread.start()
    speech = build_speech(settings.speech)  # None unless the test turned speech on
    app = create_app(settings, {MODEL: backend}, api_key=api_key, speech=speech)
    runner, port = asyncio.run_coroutine_threadsafe(start_server(app, "127.0.0.1", 0), loop).result(
        30
    )
    server = EchoServer(f"http://127.0.0.1:{port}", api_key, app, backend, records.lines)
    try:
        _wait_healthy(server)
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        logger.removeHandler(records)
        logger.setLevel(level)
    if api_key:
        assert not [line for line in records.lines if api_key in line], "the key was logged"


def _wait_healthy(server: EchoServer) -> None:
    """Engines load in the background; the echo one at once, but not synchronously."""
    for _ in range(500):
        if httpx.get(server.base_url + "/health", timeout=10).status_code == 200:
            return
        time.sleep(0.01)
    raise RuntimeError("the in-process server never became healthy")


@pytest.fixture(name="echo_server")
def echo_server_fixture(tmp_path: Path) -> Iterator[EchoServer]:
    """The app on a fresh echo engine with an API key, a small body limit, two slots and
    a queue of one (the subprocess server's shape, tests/conftest.py)."""
    backend = EchoBackend(MODEL, n_ctx=2048, max_parallel=SLOTS)
    with serve(echo_settings(tmp_path), backend) as server:
        yield server
