"""What a browser page or a greedy client can make of the server: a page that rebinds its
own name to 127.0.0.1, or posts from its origin, is refused; image cost is capped by
config; and a cancelled image request stops its work at the next step."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from inference_server.backends.echo import EchoBackend
from inference_server.backends.images import DiffusersBackend, ImageJob
from inference_server.images import ImageService
from inference_server.settings import ImageSettings

from .kit.inprocess import MODEL, echo_settings, serve
from .kit.tiny_diffusion import build_tiny_pipeline


def _post(url: str, **headers: str) -> httpx.Response:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    auth = {"Authorization": "Bearer test-key-not-secret"}
    return httpx.post(url + "/v1/chat/completions", json=body, headers={**auth, **headers})


def test_a_page_rebinding_its_name_or_posting_from_its_origin_is_refused(
    tmp_path: Path,
) -> None:
    with serve(echo_settings(tmp_path), EchoBackend(MODEL)) as server:
        assert _post(server.base_url).status_code == 200  # the official clients: no Origin
        rebound = _post(server.base_url, Host="evil.example:8080")
        assert rebound.status_code == 403
        assert rebound.json()["error"]["code"] == "host_not_allowed"
        assert _post(server.base_url, Host="localhost:8080").status_code == 200
        page = _post(server.base_url, Origin="http://evil.example")
        assert page.status_code == 403 and page.json()["error"]["code"] == "origin_not_allowed"
        probe = httpx.get(server.base_url + "/health", headers={"Host": "x.example"})
        assert probe.status_code == 200  # health probes stay open
    allowed = echo_settings(tmp_path, allowed_origins=["http://127.0.0.1:8090"])
    with serve(allowed, EchoBackend(MODEL)) as server:
        assert _post(server.base_url, Origin="http://127.0.0.1:8090").status_code == 200


def _until_stepping(backend: DiffusersBackend) -> None:
    deadline = time.monotonic() + 60
    while backend.steps_run < 2:  # the worker thread's progress: no event to wait on
        assert time.monotonic() < deadline
        time.sleep(0.01)


@pytest.fixture(scope="module")
def tiny_images(tmp_path_factory: pytest.TempPathFactory) -> ImageSettings:
    folder = build_tiny_pipeline(tmp_path_factory.mktemp("tiny"))
    return ImageSettings(model=str(folder), max_steps=150, n_threads=1)  # type: ignore[call-arg]


@pytest.mark.slow
async def test_a_cancelled_image_request_stops_its_work(tiny_images: ImageSettings) -> None:
    backend = DiffusersBackend(tiny_images)
    service = ImageService(tiny_images, backend)
    await service.load()
    assert service.ready, service.error
    started = threading.Event()
    original = backend.generate

    def generate(job: ImageJob, cancel: object = None) -> list[bytes]:
        started.set()
        return original(job, cancel)  # type: ignore[arg-type]

    backend.generate = generate  # type: ignore[method-assign]
    job = ImageJob("a teletype", n=1, width=64, height=64, steps=150, guidance=0.0, seed=1)
    request = asyncio.create_task(service.generate(job))
    await asyncio.to_thread(started.wait, 60)
    await asyncio.to_thread(_until_stepping, backend)
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    # The slot comes back once the worker has stopped, after the step in progress.
    await asyncio.wait_for(service._slots.acquire(), 60)
    service._slots.release()
    assert backend.steps_run < 150, backend.steps_run
    done = await service.generate(ImageJob("ok", 1, 64, 64, 2, 0.0, 1))  # it still works
    assert done[0].startswith(b"\x89PNG")
    await service.close()


def test_image_cost_is_capped_by_config() -> None:
    from types import SimpleNamespace

    from inference_server.protocol import ApiError
    from inference_server.protocol_media import ImageRequest
    from inference_server.serving_images import ImageServing

    service = SimpleNamespace(settings=ImageSettings(model="m", max_steps=4, max_n=2))  # type: ignore[call-arg]
    ok = ImageServing._job(ImageRequest(prompt="a cat", steps=4), service)  # type: ignore[arg-type]
    assert ok.steps == 4
    for body, param in (({"steps": 5}, "steps"), ({"n": 3}, "n"), ({"size": "2048x2048"}, "size")):
        with pytest.raises(ApiError) as caught:
            ImageServing._job(ImageRequest(prompt="a cat", **body), service)  # type: ignore[arg-type]
        assert caught.value.status == 400 and caught.value.param == param


def test_the_managed_vllm_child_gets_no_secret_and_a_key_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in for vLLM's Python that writes down its environment and exits."""
    import json
    import sys

    from inference_server.backends.base import BackendError
    from inference_server.backends.vllm import ManagedVllm

    dump = tmp_path / "env.json"
    python = tmp_path / "python"
    python.write_text(
        f"#!{sys.executable}\nimport json, os\n"
        f"open({str(dump)!r}, 'w').write(json.dumps(dict(os.environ)))\nraise SystemExit(3)\n"
    )
    python.chmod(0o755)
    for name in ("LITERAI_API_KEY", "DISCORD_TOKEN", "TWITCH_CLIENT_SECRET"):
        monkeypatch.setenv(name, f"secret-{name}")
    managed = ManagedVllm(
        "m", tmp_path, python=python, log_path=tmp_path / "vllm.log", startup_timeout_s=30
    )
    with pytest.raises(BackendError, match="exited with code 3"):
        managed.load()
    env = json.loads(dump.read_text())
    assert not [v for v in env.values() if v.startswith("secret-")]
    assert len(env["VLLM_API_KEY"]) >= 20 and env["HF_HUB_OFFLINE"] == "1"
    assert "PATH" in env
