"""/health and 503s while a model loads or after it failed to load.

The real app and HTTP stack in-process, on the echo engine with a load() that waits for
the test, so "still loading" can be observed deterministically.
"""

from __future__ import annotations

import asyncio
import threading

import aiohttp
import openai

from inference_server.app import create_app, start_server
from inference_server.backends.echo import EchoBackend
from inference_server.settings import ServerSettings


class GatedBackend(EchoBackend):
    """Loads when the test says so (or fails to); then echoes as the echo engine does."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__("gated", n_ctx=512)
        self.gate = threading.Event()
        self.fail = fail

    def load(self) -> None:
        self.gate.wait(30)
        if self.fail:
            raise ValueError("not a GGUF file")


async def _serve(backend: GatedBackend, errors: list[str]):  # type: ignore[no-untyped-def]
    settings = ServerSettings.model_validate(
        {"default_model": "gated", "models": {"gated": {"engine": "echo"}}, "api_key_env": "NO_KEY"}
    )
    app = create_app(settings, {"gated": backend}, on_load_error=errors.append)
    return await start_server(app, "127.0.0.1", 0)


async def test_503_until_loaded_then_200() -> None:
    backend = GatedBackend()
    runner, port = await _serve(backend, [])
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(base + "/health") as resp:
                assert resp.status == 503
                assert (await resp.json())["status"] == "loading"
            client = openai.AsyncOpenAI(base_url=base + "/v1", api_key="x", max_retries=0)
            for call in (
                client.models.list(),
                client.chat.completions.create(
                    model="gated", messages=[{"role": "user", "content": "hi"}]
                ),
            ):
                try:
                    await call
                except openai.APIStatusError as exc:
                    assert exc.status_code == 503
                    assert exc.code == "not_ready"
                else:
                    raise AssertionError("expected 503 while loading")
            backend.gate.set()
            for _ in range(100):
                async with session.get(base + "/health") as resp:
                    if resp.status == 200:
                        break
                await asyncio.sleep(0.02)
            assert resp.status == 200
            answer = await client.chat.completions.create(
                model="gated", messages=[{"role": "user", "content": "banana"}]
            )
            assert answer.choices[0].message.content == "banana"
            await client.close()
    finally:
        await runner.cleanup()


async def test_failed_load_reports_error_and_stays_503() -> None:
    backend = GatedBackend(fail=True)
    errors: list[str] = []
    runner, port = await _serve(backend, errors)
    try:
        backend.gate.set()
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                if errors:
                    break
                await asyncio.sleep(0.02)
            assert errors and "not a GGUF file" in errors[0]
            async with session.get(f"http://127.0.0.1:{port}/health") as resp:
                assert resp.status == 503
                body = await resp.json()
                assert body["status"] == "error"
                assert "not a GGUF file" in body["detail"][0]
    finally:
        await runner.cleanup()
