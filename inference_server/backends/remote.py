"""vLLM as the text engine: any OpenAI-compatible server by URL (``engine: remote``), or
a vLLM API server literai starts and stops as a child process (``engine: vllm``).

Scale-out (tensor and pipeline parallelism, replicas) is vLLM's job; literai only
forwards. Requests stream through the official ``openai`` client from the engine's
worker threads (``max_parallel`` at once: vLLM batches them); the upstream's errors
keep OpenAI's shape: its 400s are the client's mistakes here too, with its message.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..child_guard import group_members
from ..model_files import hf_folder
from ..settings import ConfigError, ModelSettings
from .base import (
    BackendError,
    BadPrompt,
    CancelToken,
    ChatMessage,
    Delta,
    FinishReason,
    PromptTooLong,
    SamplingParams,
)

log = logging.getLogger(__name__)


class RemoteOpenAI:
    """A text backend that is another OpenAI-compatible server."""

    def __init__(
        self,
        name: str,
        base_url: str,
        served_model: str,
        api_key: str | None = None,
        *,
        max_parallel: int = 8,
        context_length: int = 2048,
        timeout_s: float = 600.0,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.served_model = served_model
        self.max_parallel = max_parallel
        self.context_length = context_length
        self._key = api_key
        self._timeout_s = timeout_s
        self._client: Any = None

    def load(self) -> None:
        import openai

        self._client = openai.OpenAI(
            base_url=self.base_url,
            api_key=self._key or "none",
            max_retries=0,
            timeout=self._timeout_s,
        )
        try:
            models = self._client.models.list().data
        except openai.APIStatusError as exc:
            raise BackendError(
                f"{self.base_url} answered {exc.status_code} to /models: {_message(exc)}"
            ) from None
        except openai.APIError as exc:
            raise BackendError(f"cannot reach {self.base_url}: {exc}") from None
        names = [m.id for m in models]
        if self.served_model not in names:
            raise BackendError(
                f"{self.base_url} does not serve {self.served_model!r} (it serves "
                f"{', '.join(names) or 'nothing'})"
            )
        found = next(m for m in models if m.id == self.served_model)
        length = getattr(found, "max_model_len", None) or (found.model_extra or {}).get(
            "max_model_len"
        )
        if isinstance(length, int) and length > 0:
            self.context_length = length
        log.info("%s: %s at %s", self.name, self.served_model, self.base_url)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def generate(
        self, prompt: str | list[ChatMessage], params: SamplingParams, cancel: CancelToken
    ) -> Iterator[Delta]:
        import openai

        client = self._client
        if client is None:
            raise BackendError("model not loaded")
        param = "prompt" if isinstance(prompt, str) else "messages"
        args: dict[str, Any] = {
            "model": self.served_model,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "frequency_penalty": params.frequency_penalty,
            "presence_penalty": params.presence_penalty,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if params.max_tokens is not None:
            args["max_tokens"] = params.max_tokens
        if params.stop:
            args["stop"] = list(params.stop)
        if params.seed is not None:
            args["seed"] = params.seed
        if params.ignore_eos:
            args["extra_body"] = {"ignore_eos": True}
        try:
            if isinstance(prompt, str):
                stream = client.completions.create(prompt=prompt, **args)
            else:
                messages = [{"role": m.role, "content": m.content} for m in prompt]
                stream = client.chat.completions.create(messages=messages, **args)
        except openai.BadRequestError as exc:
            message = _message(exc)
            low = message.lower()
            where = exc.param if isinstance(exc.param, str) and exc.param else param
            # vLLM says "maximum context length" of prompts, "max_model_len" of max_tokens.
            if exc.code == "context_length_exceeded" or any(
                words in low for words in ("maximum context length", "max_model_len")
            ):
                raise PromptTooLong(message, where) from None
            raise BadPrompt(message, where) from None
        except openai.APIStatusError as exc:
            raise BackendError(
                f"the {self.name} server answered {exc.status_code}: {_message(exc)}"
            ) from None
        except openai.APIError as exc:
            raise BackendError(f"cannot reach the {self.name} server: {exc}") from None
        yield from self._read(stream, cancel)

    def _read(self, stream: Any, cancel: CancelToken) -> Iterator[Delta]:
        import openai

        produced = prompt_tokens = 0
        finish: FinishReason | None = None
        try:
            with stream:
                for chunk in stream:
                    if cancel.cancelled:
                        return  # leaving the with block closes the connection
                    if chunk.usage is not None:
                        produced = chunk.usage.completion_tokens
                        prompt_tokens = chunk.usage.prompt_tokens
                    for choice in chunk.choices:
                        text = getattr(choice, "text", None)
                        if text is None:
                            text = choice.delta.content or ""
                        if choice.finish_reason is not None:
                            finish = "length" if choice.finish_reason == "length" else "stop"
                        if text:
                            produced += 1  # one token per chunk, until usage says
                            yield Delta(text, produced)
        except openai.APIError as exc:
            raise BackendError(f"the {self.name} server failed mid-answer: {exc}") from None
        if not cancel.cancelled:
            yield Delta("", produced, finish_reason=finish or "stop", prompt_tokens=prompt_tokens)


class ManagedVllm(RemoteOpenAI):
    """vLLM's OpenAI API server as a child process in its own virtualenv: started by
    ``load`` (which waits for its /health), stopped with its whole process group by
    ``close``. Its output goes to ``log_path``; a crash is reported with that path. It
    runs under ``inference_server.child_guard``, which stops the group if literai dies
    without closing it."""

    def __init__(
        self,
        name: str,
        folder: Path,
        *,
        python: Path,
        log_path: Path,
        max_parallel: int = 8,
        max_model_len: int = 2048,
        kv_cache_gib: float = 1.0,
        startup_timeout_s: float = 300.0,
        extra_args: list[str] | None = None,
        threads: int | None = None,
    ) -> None:
        super().__init__(name, "http://127.0.0.1:0/v1", name, max_parallel=max_parallel)
        self.folder = folder
        self.python = python
        self.log_path = log_path
        self.max_model_len = max_model_len
        self.kv_cache_gib = kv_cache_gib
        self.startup_timeout_s = startup_timeout_s
        self.extra_args = extra_args or []
        self.threads = threads or os.cpu_count() or 1
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self, port: int) -> list[str]:
        return [
            str(self.python), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(self.folder), "--served-model-name", self.name,
            "--host", "127.0.0.1", "--port", str(port),
            "--max-model-len", str(self.max_model_len),
            "--max-num-seqs", str(self.max_parallel),
            *self.extra_args,
        ]  # fmt: skip

    def load(self) -> None:
        port = _free_port()
        self.base_url = f"http://127.0.0.1:{port}/v1"
        env = {
            **os.environ,
            "VLLM_CPU_KVCACHE_SPACE": f"{self.kv_cache_gib:g}",
            "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
            "VLLM_CPU_OMP_THREADS_BIND": f"0-{self.threads - 1}",
            "VLLM_NO_USAGE_STATS": "1",
            "HF_HUB_OFFLINE": "1",
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Through the guard: if literai dies without closing, vLLM goes too.
        guard = [sys.executable, "-m", "inference_server.child_guard", str(os.getpid()), "--"]
        with open(self.log_path, "ab") as log_file:
            self.proc = subprocess.Popen(
                [*guard, *self.command(port)],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own process group: close() stops all of it
            )
        log.info("%s: starting vLLM (pid %d), log in %s", self.name, self.proc.pid, self.log_path)
        deadline = time.monotonic() + self.startup_timeout_s
        health = self.base_url.removesuffix("/v1") + "/health"
        while True:
            code = self.proc.poll()
            if code is not None:
                self.close()  # what it may have started (its engine core) goes too
                raise BackendError(
                    f"vLLM exited with code {code} while starting; see {self.log_path}: "
                    f"{_tail(self.log_path)}"
                )
            try:
                with urllib.request.urlopen(health, timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                self.close()
                raise BackendError(
                    f"vLLM did not become healthy in {self.startup_timeout_s:g} s; "
                    f"see {self.log_path}"
                )
            time.sleep(0.5)
        super().load()

    def generate(
        self, prompt: str | list[ChatMessage], params: SamplingParams, cancel: CancelToken
    ) -> Iterator[Delta]:
        try:
            yield from super().generate(prompt, params, cancel)
        except BackendError as exc:
            if self.proc is not None and self.proc.poll() is not None:
                raise BackendError(
                    f"vLLM has stopped (exit code {self.proc.returncode}); see {self.log_path}"
                ) from exc
            raise

    def close(self) -> None:
        super().close()
        proc, self.proc = self.proc, None
        if proc is not None:  # even when the leader has died: its engine core may not have
            _stop_group(proc, 20.0)


def remote_backend(
    alias: str, model: ModelSettings, data_dir: Path | None, api_key: str | None = None
) -> RemoteOpenAI:
    """The backend for ``engine: remote`` (``api_key``: its key, read by the process
    layer) or ``engine: vllm``; ConfigError for what is missing (vLLM's virtualenv, the
    model folder)."""
    key = f"server.models.{alias}"
    if model.engine == "remote":
        assert model.url is not None  # the settings validator makes sure
        secret = api_key
        return RemoteOpenAI(
            alias,
            model.url,
            model.served_model or alias,
            secret,
            max_parallel=model.slots,
            context_length=model.n_ctx,
        )
    data = data_dir if data_dir is not None else Path("data")
    folder = Path(model.hf_folder).expanduser() if model.hf_folder else hf_folder(alias, data)
    if not (folder / "config.json").is_file():
        raise ConfigError(
            f"{key}.hf_folder",
            f"no Hugging Face model folder at {folder} (make one with: literai model export-hf)",
        )
    python = Path(model.vllm_python).expanduser()
    if not python.is_file():
        raise ConfigError(f"{key}.vllm_python", f"{python} not found (run scripts/vllm-env.sh)")
    return ManagedVllm(
        alias,
        folder,
        python=python,
        log_path=data / "logs" / f"vllm-{alias}.log",
        max_parallel=model.slots,
        max_model_len=model.n_ctx,
        kv_cache_gib=model.vllm_kv_cache_gib,
        startup_timeout_s=model.startup_timeout_s,
        extra_args=model.vllm_args,
        threads=model.n_threads,
    )


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])[:500]
        if isinstance(body.get("message"), str):
            return str(body["message"])[:500]
    return str(getattr(exc, "message", exc))[:500]


def _stop_group(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM to the child's process group, SIGKILL to what is left after ``grace_s``;
    the group is empty on return (vLLM's engine core outlives its parent otherwise)."""
    group = proc.pid
    _signal_group(group, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while group_members(group) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = group_members(group)
    if left:
        log.warning("vLLM (group %d) ignored SIGTERM for %g s; killing it", group, grace_s)
        # multiprocessing's resource tracker unlinks the shared memory (vLLM: hundreds of
        # MB in /dev/shm) of processes that die without doing so: kill the others first
        # and give it a moment to notice.
        for pid, command in left:
            if "multiprocessing.resource_tracker" not in command:
                _kill(pid)
        deadline = time.monotonic() + 5.0
        while group_members(group) and time.monotonic() < deadline:
            time.sleep(0.1)  # the tracker exits once it has cleaned up
        _signal_group(group, signal.SIGKILL)
    proc.wait()


def _signal_group(group: int, sig: signal.Signals) -> None:
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        pass


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:])[-600:]
