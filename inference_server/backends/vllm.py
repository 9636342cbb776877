"""vLLM as a child process (``engine: vllm``): vLLM's OpenAI API server started from its
own virtualenv on a Hugging Face folder, health-waited, then used as a remote engine
(``remote.RemoteOpenAI``); its whole process group is stopped on close, and a guard
(``inference_server.child_guard``) stops it if literai dies without closing it.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

from ..child_guard import group_members
from ..model_files import hf_folder
from ..settings import ConfigError, ModelSettings
from .base import BackendError, CancelToken, ChatMessage, Delta, SamplingParams
from .remote import RemoteOpenAI

log = logging.getLogger(__name__)


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
        self.loras: dict[str, Path] = {}  # trained adapters served by name
        self.ready = threading.Event()  # set when loaded: what VllmLora waits for

    @property
    def api_key(self) -> str | None:
        """The child's own key (made at load): what a client of it must send."""
        return self._key

    def command(self, port: int) -> list[str]:
        return [
            str(self.python), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(self.folder), "--served-model-name", self.name,
            "--host", "127.0.0.1", "--port", str(port),
            "--max-model-len", str(self.max_model_len),
            "--max-num-seqs", str(self.max_parallel),
            *self._lora_args(),
            *self.extra_args,
        ]  # fmt: skip

    def add_loras(self, adapters: Mapping[str, Path]) -> None:
        self.loras.update(adapters)

    def _lora_args(self) -> list[str]:
        if not self.loras:
            return []
        ranks = [_rank(path) for path in self.loras.values()]
        rank = next(r for r in (8, 16, 32, 64, 128, 256, max(ranks)) if r >= max(ranks))
        modules = [f"{name}={path}" for name, path in self.loras.items()]
        return ["--enable-lora", "--max-lora-rank", str(rank), "--lora-modules", *modules]

    def load(self) -> None:
        try:
            self._start()
        finally:
            self.ready.set()  # started or failed: the adapters' aliases stop waiting

    def _start(self) -> None:
        port = _free_port()
        self.base_url = f"http://127.0.0.1:{port}/v1"
        # A scrubbed environment: the child gets what it needs to run, never literai's
        # secrets (API keys, chat tokens); and a random key of its own, so nothing else
        # on this machine can use it behind literai's back.
        self._key = secrets.token_urlsafe(24)
        env = {
            **{k: v for k, v in os.environ.items() if _passes(k)},
            "VLLM_API_KEY": self._key,
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


def _rank(peft: Path) -> int:
    try:
        return int(json.loads((peft / "adapter_config.json").read_text())["r"])
    except (OSError, ValueError, KeyError, TypeError):
        return 16


class VllmLora(RemoteOpenAI):
    """A trained adapter that a managed vLLM serves: requests go to that engine under
    the adapter's name once it has started."""

    def __init__(self, name: str, base: ManagedVllm) -> None:
        super().__init__(name, base.base_url, name, max_parallel=base.max_parallel)
        self.base = base
        self.context_length = base.max_model_len

    def load(self) -> None:
        if not self.base.ready.wait(self.base.startup_timeout_s + 30):
            raise BackendError(f"{self.name}: its vLLM engine ({self.base.name}) did not start")
        if self.base.proc is None or self.base._client is None:
            raise BackendError(f"{self.name}: its vLLM engine ({self.base.name}) failed to start")
        self.base_url, self._key = self.base.base_url, self.base.api_key
        super().load()


def managed_vllm(alias: str, model: ModelSettings, data_dir: Path | None) -> ManagedVllm:
    """The backend for ``engine: vllm``; ConfigError for what is missing (vLLM's
    virtualenv, the model folder)."""
    key = f"server.models.{alias}"
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


# What the vLLM child may inherit: how to run programs and find libraries, locale and
# temporary folders, the GPUs, and vLLM's, torch's and Hugging Face's own variables.
_PASS = (
    "PATH",
    "HOME",
    "USER",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "LD_LIBRARY_PATH",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "SSL_CERT_FILE",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
)
_PASS_PREFIXES = ("VLLM_", "CUDA_", "NVIDIA_", "HF_", "TORCH", "OMP_", "MKL_", "NCCL_")


def _passes(name: str) -> bool:
    return name in _PASS or (name.startswith(_PASS_PREFIXES) and name != "VLLM_API_KEY")


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
