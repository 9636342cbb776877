"""Whether llama.cpp may keep a model's weights in its extra buffers (``use_extra_bufts``:
weights repacked for AVX2/AVX-512 matmuls, and AMX tiles on Intel Xeons), and loading a
model either way.

Why this exists: on this project's machine kind (2026-12-02: a Firecracker VM on an
Intel Xeon with AMX), the CPU reports AMX and the kernel grants the tile permission
llama.cpp asks for, so a llama.cpp built natively puts Q8_0 and Q4_0 weights in AMX
buffers, and then the first decode of more than one token dies of SIGSEGV: every
prompt, and so every request. A segfault cannot be caught in the process it kills, so
when llama.cpp was built with AMX a child process loads the model and decodes a few
tokens first; if it dies, the weights stay in plain CPU buffers (llama.cpp's own
``--no-repack``), which decode at full speed here. The answer is kept per llama.cpp
build, CPU, kernel and model file in the user's cache folder, so the probe runs once.
``server.models.<alias>.repack`` (``auto``, ``on``, ``off``) overrides it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_LOAD = threading.Lock()  # loads swap llama_model_default_params for their duration
_INFO_LOCK = threading.Lock()
_INFO: list[str] = []  # llama.cpp's system info, read once per process (see _build_info)
_PROBE_S = 120.0
KEEP = 64  # answers remembered (model files, builds, machines)
# The child: load the model as the server would and decode a multi-token prompt, the
# call that crashed (single-token decodes did not).
_PROBE = """
import sys, llama_cpp
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=64, n_batch=64, n_threads=1,
                      n_threads_batch=1, verbose=False)
llm.eval(llm.tokenize(b"one two three four five six seven eight nine ten"))
"""


def _cache_file() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "literai" / "llama-buffers.json"


def _build_info() -> str:
    """llama.cpp's system info (its CPU features, ``AMX_INT8 = 1`` among them), read once.
    ``llama_print_system_info`` clears and refills one static string on every call, so
    two calls at once (two models loading in parallel, as the server does) can read it
    half written, without its AMX line: that model then went to the AMX buffers and the
    server died on its first prompt (2026-12-02, about one start in five)."""
    import llama_cpp

    with _INFO_LOCK:
        if not _INFO:
            info = llama_cpp.llama_print_system_info()
            _INFO.append(info.decode(errors="replace") if isinstance(info, bytes) else str(info))
        return _INFO[0]


def _key(path: Path, info: str) -> str:
    """What the probe's answer depends on: llama.cpp's build, the CPU, the kernel and the
    model file (its quantization decides which weights go to AMX)."""
    import llama_cpp

    cpu = ""
    try:
        cpu = next(x for x in Path("/proc/cpuinfo").read_text().splitlines() if "flags" in x)
    except (OSError, StopIteration):
        pass
    stat = path.stat()
    parts = (llama_cpp.__version__, info, cpu, platform.release(), str(path.resolve()),
             str(stat.st_size), str(stat.st_mtime_ns))  # fmt: skip
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _remembered(key: str) -> bool | None:
    try:
        found = json.loads(_cache_file().read_text()).get(key)
    except (OSError, ValueError, AttributeError):
        return None
    return found if isinstance(found, bool) else None


def _remember(key: str, ok: bool) -> None:
    """Kept for the next start; a cache folder that cannot be written only costs a probe."""
    file = _cache_file()
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        try:
            known = json.loads(file.read_text())
        except (OSError, ValueError):
            known = {}
        known = known if isinstance(known, dict) else {}
        known.pop(key, None)
        known[key] = ok  # newest last; the oldest go beyond KEEP (a model file per test run)
        known = dict(list(known.items())[-KEEP:])
        tmp = file.with_name(f".{file.name}.{os.getpid()}")
        tmp.write_text(json.dumps(known))
        tmp.replace(file)
    except OSError:
        pass


def _probe(path: Path) -> bool:
    """Does a child process survive a multi-token decode of ``path`` with the extra
    buffers on?"""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, str(path)],
            capture_output=True, timeout=_PROBE_S, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def extra_buffers_work(path: Path) -> bool:
    """Whether ``path`` may be loaded with llama.cpp's extra buffers on this machine: yes
    at once when llama.cpp has no AMX kernels, else what the (remembered) probe found."""
    info = _build_info()
    if "AMX_INT8 = 1" not in info or not path.is_file():  # (llama.cpp says what is wrong)
        return True
    key = _key(path, info)
    known = _remembered(key)
    if known is None:
        known = _probe(path)
        _remember(key, known)
        if not known:
            log.warning(
                "llama.cpp's AMX kernels crashed on this machine in a test decode of %s: its "
                "weights stay in plain CPU buffers (repack: on would use them anyway)",
                path.name,
            )
    return known


def use_extra_buffers(path: Path, repack: str) -> bool:
    """``repack`` (auto, on, off) for the model file ``path``."""
    if repack == "auto":
        return extra_buffers_work(path)
    return repack == "on"


@contextmanager
def plain_buffers() -> Iterator[None]:
    """llama-cpp-python's ``Llama`` has no argument for ``use_extra_bufts``; its model
    parameters come from ``llama_model_default_params``, so that is wrapped while a model
    loads (``load_llama`` holds ``_LOAD``, so no other load sees it; bench/concurrency.py
    runs llama-cpp-python's own server inside it)."""
    import llama_cpp.llama_cpp as raw

    default = raw.llama_model_default_params

    def plain() -> Any:
        params = default()
        params.use_extra_bufts = False
        return params

    raw.llama_model_default_params = plain
    try:
        yield
    finally:
        raw.llama_model_default_params = default


def load_llama(path: Path, repack: str = "auto", **kwargs: Any) -> Any:
    """``llama_cpp.Llama(model_path=path, **kwargs)``, its weights in the extra buffers or
    not as ``repack`` decides. Errors are llama-cpp-python's."""
    import llama_cpp

    with _LOAD:  # one decision and load at a time: the probe's answer is cached once
        extra = use_extra_buffers(path, repack)
        if extra:
            return llama_cpp.Llama(model_path=str(path), **kwargs)
        with plain_buffers():
            return llama_cpp.Llama(model_path=str(path), **kwargs)
