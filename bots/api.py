"""The inference API's lifetime in this process: the server literai starts itself
(``literai serve``, or inside ``run`` and the CLI jobs), and the ``openai`` client the
bots use, pointed at it or at ``client.base_url``."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import openai
from aiohttp import web

from inference_server.app import build_backends, create_app, start_server
from inference_server.images import build_images
from inference_server.settings import ConfigError
from inference_server.speech import build_speech

from .config import Environment, LiteraiConfig
from .stop import Stop


async def listen(
    app: web.Application, host: str, port: int, section: str = "server"
) -> tuple[web.AppRunner, int]:
    """Start serving ``app``; a port that cannot be had is a ConfigError naming it."""
    try:
        return await start_server(app, host, port)
    except OSError as exc:
        raise ConfigError(
            f"{section}.port",
            f"cannot listen on {host}:{port}: {exc.strerror or exc} "
            "(choose another port, or 0 for any free one)",
        ) from None


def loopback(host: str) -> str:
    """An address to reach a server bound to ``host`` from this machine."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


async def start_inference(
    config: LiteraiConfig, env: Environment, stop: Stop
) -> tuple[web.AppRunner, int, list[str]]:
    """The server with every configured capability, listening; a model that fails to
    load stops the process with its one-line reason. Returns the runner, the bound
    port and the text models' aliases."""
    backends = build_backends(config.server, Path(config.data_dir), env.model_keys)
    app = create_app(
        config.server,
        backends,
        speech=build_speech(config.server.speech),
        images=build_images(config.server.images),
        on_load_error=lambda msg: stop.set(1, msg),
        api_key=env.api_key,
        data_dir=Path(config.data_dir),
    )
    runner, port = await listen(app, config.server.host, config.server.port)
    return runner, port, list(backends)


async def serve(config: LiteraiConfig, env: Environment) -> int:
    """``literai serve``: the inference server alone, until a signal."""
    stop = Stop.installed()
    runner, port, models = await start_inference(config, env, stop)
    print(
        f"literai: serving {', '.join(models)} on http://{config.server.host}:{port}/v1",
        flush=True,
    )
    try:
        await stop.event.wait()
    finally:
        await runner.cleanup()
    return stop.code


async def wait_ready(client: openai.AsyncOpenAI, stop: Stop, limit_s: float = 120) -> bool:
    """Poll the API until the model answers (503 while loading)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not stop.event.is_set():
        try:
            await client.models.list()
            return True
        except openai.APIStatusError as exc:
            if exc.status_code != 503:
                stop.set(1, f"the inference server answered {exc.status_code}")
                return False
        except openai.APIConnectionError:
            pass
        if loop.time() > deadline:
            stop.set(1, "the inference server did not become ready in time")
            return False
        await asyncio.sleep(0.2)
    return False


async def check_remote(client: openai.AsyncOpenAI, base_url: str) -> None:
    """A remote server that is down is not fatal: the bot starts and answers politely."""
    try:
        await client.models.list()
    except openai.OpenAIError as exc:
        print(
            f"literai: warning: the inference server at {base_url} is not answering "
            f"({type(exc).__name__}); the bot will say so in chat until it is",
            file=sys.stderr,
            flush=True,
        )


@contextlib.asynccontextmanager
async def api_client(
    config: LiteraiConfig, env: Environment, stop: Stop
) -> AsyncIterator[tuple[openai.AsyncOpenAI, bool]]:
    """An openai client for ``client.base_url``, or for a server started here; and
    whether it is ready to answer."""
    runner = None
    base_url = config.client.base_url
    if base_url is None:
        runner, port, _ = await start_inference(config, env, stop)
        base_url = f"http://{loopback(config.server.host)}:{port}/v1"
    try:
        async with openai.AsyncOpenAI(
            base_url=base_url,
            api_key=env.client_key or "no-key",
            max_retries=0,
            timeout=config.client.timeout_s,
        ) as client:
            if runner is None:
                await check_remote(client, base_url)
                yield client, True
            else:
                yield client, await wait_ready(client, stop)
    finally:
        if runner is not None:
            await runner.cleanup()
