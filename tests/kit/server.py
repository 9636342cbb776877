"""Starting literai's own server and command as a user would: a subprocess on a free
loopback port with the real model, and the official openai client to talk to it. The
tests' fixtures and the benchmarks both start the server through ``start_server``."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import yaml

ROOT = Path(__file__).resolve().parents[2]
LITERAI = [sys.executable, "-m", "bots.cli"]
API_KEY = "test-key-not-secret"
SERVER_SLOTS = 2  # the session server's sequences decoded together


class ApiPeer:
    """What tests do with any literai server they started, subprocess or in-process:
    its /v1 URL, the official client, one metric."""

    base_url: str  # http://127.0.0.1:PORT
    api_key: str | None

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


@dataclass
class Server(ApiPeer):
    base_url: str
    api_key: str | None
    proc: subprocess.Popen[str]


def assert_stream_matches(chunks: list[Any], whole: Any) -> None:
    """A streamed chat answer (with usage) says what the same request said whole."""
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == whole.choices[0].finish_reason
    assert all(f is None for f in finishes[:-1])
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert len({c.id for c in chunks}) == 1


def write_config(tmp: Path, **sections: object) -> Path:
    """``tmp/literai.yaml``: port 0 and warnings only, with ``sections`` laid over."""
    path = tmp / "literai.yaml"
    data: dict[str, object] = {"server": {"port": 0}, "log_level": "warning"}
    for key, value in sections.items():
        base = data.get(key)
        data[key] = {**base, **value} if isinstance(base, dict) else value
    path.write_text(yaml.safe_dump(data))
    return path


def start_server(
    config: Path,
    env: dict[str, str] | None = None,
    ready_s: float = 60,
    *,
    capture_stderr: bool = True,
) -> Server:
    """``literai serve --config config`` once it is healthy. ``capture_stderr``: keep
    its log for ``stop_server`` to return (tests), or let it through (benchmarks, whose
    long runs would fill an unread pipe)."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen(
        [*LITERAI, "serve", "--config", str(config)],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if capture_stderr else None,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"on (http://[0-9.]+:\d+)/v1", line)
    if not match:
        proc.kill()
        err = proc.stderr.read() if proc.stderr is not None else ""
        raise RuntimeError(f"server did not start: {line!r} {err!r}")
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
    """Stop it as a user would (SIGTERM); its stderr."""
    server.proc.terminate()
    try:
        _, err = server.proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        _, err = server.proc.communicate()
    return err or ""


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
