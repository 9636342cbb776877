"""Fixtures that start the real server (a subprocess on a free loopback port, the real
SmolLM2 model) and hand tests the official openai client."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import openai
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
LITERAI = [sys.executable, "-m", "bots.cli"]
API_KEY = "test-key-not-secret"


@dataclass
class Server:
    base_url: str  # http://127.0.0.1:PORT
    api_key: str | None
    proc: subprocess.Popen[str]

    @property
    def v1(self) -> str:
        return self.base_url + "/v1"

    def client(self, strict: bool = True, **kw: object) -> openai.OpenAI:
        """The official client. Strict: it rejects any response that does not match its
        schema instead of quietly accepting it. Streamed legacy completions need
        strict=False: the client types their finish_reason as never null, while OpenAI
        (and vLLM, and we) send null on every chunk but the last."""
        return openai.OpenAI(
            base_url=self.v1,
            api_key=self.api_key or "none",
            max_retries=0,
            _strict_response_validation=strict,
            **kw,  # type: ignore[arg-type]
        )

    def metric(self, name: str, labels: str = "") -> float:
        """One sample from /metrics, e.g. metric("literai_requests_running", 'model="smollm2"')."""
        text = httpx.get(self.base_url + "/metrics", timeout=10).text
        pattern = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "")
        match = re.search(r"^" + pattern + r" ([0-9.e+-]+)$", text, re.M)
        return float(match.group(1)) if match else 0.0


SERVER_SLOTS = 2  # the session server's sequences decoded together


def write_config(tmp: Path, **sections: object) -> Path:
    path = tmp / "literai.yaml"
    data: dict[str, object] = {"server": {"port": 0}, "log_level": "warning"}
    for key, value in sections.items():
        base = data.get(key)
        data[key] = {**base, **value} if isinstance(base, dict) else value
    path.write_text(yaml.safe_dump(data))
    return path


def start_server(config: Path, env: dict[str, str] | None = None, ready_s: float = 60) -> Server:
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen(
        [*LITERAI, "serve", "--config", str(config)],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"on (http://[0-9.]+:\d+)/v1", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"server did not start: {line!r} {proc.stderr.read()!r}")  # type: ignore[union-attr]
    server = Server(match.group(1), full_env.get("LITERAI_API_KEY") or None, proc)
    deadline = time.monotonic() + ready_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(server.base_url + "/health", timeout=5).status_code == 200:
                return server
        except httpx.TimeoutException:
            pass  # imports of torch/diffusers at load can hold the GIL for seconds
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server never became healthy")


def stop_server(server: Server) -> str:
    server.proc.terminate()
    try:
        _, err = server.proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        _, err = server.proc.communicate()
    return err


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real server with the packaged model batching two sequences, an API key, a
    small body limit and a queue of one, shared by the end-to-end tests."""
    tmp = tmp_path_factory.mktemp("server")
    config = write_config(
        tmp,
        server={"port": 0, "max_body_bytes": 65536, "max_queue": 1,
                "models": {"smollm2": {"slots": SERVER_SLOTS}}},
    )  # fmt: skip
    srv = start_server(config, {"LITERAI_API_KEY": API_KEY})
    yield srv
    err = stop_server(srv)
    assert srv.proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert API_KEY not in err, "the API key must never be logged"


@pytest.fixture
def client(server: Server) -> openai.OpenAI:
    return server.client(timeout=60)


@pytest.fixture
def lenient_client(server: Server) -> openai.OpenAI:
    return server.client(strict=False, timeout=60)


async def literai_run(config: Path, env: dict[str, str]) -> tuple[int, str]:
    """``literai run`` to the end with extra environment; its exit code and stderr."""
    proc = await asyncio.create_subprocess_exec(
        *LITERAI,
        "run",
        "--config",
        str(config),
        cwd=ROOT,
        env={**os.environ, **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


def literai(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the literai command to the end, as a user would."""
    return subprocess.run(
        [*LITERAI, *args],
        cwd=ROOT,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=300,
    )


from .discord_helpers import fake  # noqa: E402, F401  (a fixture: the fake Discord)
