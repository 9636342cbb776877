"""Model files made from the packaged one, once, into the data folder.

- ``convert_gguf``: the packaged SmolLM2 is Q4_1, for which llama.cpp's CPU backend has no
  repacked fast path; Q4_0 is repacked at load (``q4_0_8x8``) and decodes batches about
  twice as fast. The price is a second lossy rounding (the original weights are not
  packaged): bench/quality.py measured perplexity 39.4 against Q4_1's 31.9 (+23%); Q8_0
  keeps Q4_1's quality but is not repacked. ``llama_model_quantize`` with
  ``allow_requantize`` dequantizes each tensor to F32 itself, so no Python tensor code.
- ``export_hf``: vLLM loads Hugging Face folders, not GGUF; transformers reads the GGUF
  (dequantized, with the ``gguf`` package) and writes a safetensors folder.

Both write next to the destination and rename into place: a crash leaves no half file.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)


class ConvertError(Exception):
    """A conversion that did not produce its file; ``str()`` says which file and why."""


FTYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q8_0": 7, "q5_0": 8, "iq4_nl": 25}
"""Target names to llama.cpp's ``llama_ftype`` (LLAMA_FTYPE_ALL_F32 = 0, MOSTLY_F16 = 1...)."""

Via = Literal["direct", "f16", "f32"]
VIAS: tuple[Via, ...] = ("direct", "f16", "f32")
DEFAULT_VIA: Via = "direct"
"""Measured with bench/quality.py: direct gives a file byte-identical to going through an
F32 copy (llama.cpp dequantizes to F32 itself), and through F16 adds a rounding step that
scored 0.17% worse perplexity (39.49 vs 39.42), in three times as long, via a 260 MB file."""

_GGUF_MAGIC = b"GGUF"
# ggml.h's levels; llama-cpp-python's _logger still maps the older numbering (3 = error).
_LOG_ERROR = 4  # GGML_LOG_LEVEL_ERROR
_LOG_CONT = 5  # GGML_LOG_LEVEL_CONT: continues the previous line


def convert_gguf(
    src: Path,
    dst: Path,
    ftype: str = "q4_0",
    *,
    via: Via = DEFAULT_VIA,
    threads: int = 2,
    verbose: bool = False,
) -> Path:
    """Write ``src`` re-quantized to ``ftype`` at ``dst`` (atomically) and return ``dst``.

    ``via="direct"`` re-quantizes in one pass; ``via="f16"``/``"f32"`` first writes a
    dequantized copy beside ``dst`` and quantizes from that. ``verbose`` lets llama.cpp's
    per-tensor log through to stderr. Raises ConvertError; ``dst`` is never left partial.
    """
    src, dst = Path(src), Path(dst)
    if ftype not in FTYPES:
        raise ConvertError(f"unknown ftype {ftype!r}; one of {', '.join(FTYPES)}")
    if via not in VIAS:
        raise ConvertError(f"unknown via {via!r}; one of {', '.join(VIAS)}")
    if threads < 1:
        raise ConvertError(f"threads must be >= 1, not {threads}")
    _check_source(src)
    if dst.resolve() == src.resolve():
        raise ConvertError(f"destination is the source file: {dst}")
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConvertError(f"cannot create the folder for {dst}: {exc}") from exc
    for stale in dst.parent.glob(f".{dst.name}.*"):  # a killed run's temporary files
        stale.unlink(missing_ok=True)

    with _temp_beside(dst, ".part") as out:
        if via == "direct":
            _quantize(src, out, ftype, threads, verbose)
        else:
            with _temp_beside(dst, f".{via}") as mid:
                _quantize(src, mid, via, threads, verbose)
                _quantize(mid, out, ftype, threads, verbose)
        try:
            os.replace(out, dst)
        except OSError as exc:
            raise ConvertError(
                f"cannot move the converted file into place at {dst}: {exc}"
            ) from exc
    log.info("converted %s -> %s (%s via %s)", src, dst, ftype, via)
    return dst


def _check_source(src: Path) -> None:
    try:
        with src.open("rb") as f:
            magic = f.read(4)
    except FileNotFoundError:
        raise ConvertError(f"source model not found: {src}") from None
    except OSError as exc:
        raise ConvertError(f"cannot read source model {src}: {exc}") from exc
    if magic != _GGUF_MAGIC:
        raise ConvertError(f"source is not a GGUF file (no GGUF magic): {src}")


@contextlib.contextmanager
def _temp_beside(dst: Path, suffix: str) -> Iterator[Path]:
    """A fresh hidden file in dst's folder (same filesystem, so os.replace is atomic),
    removed on the way out unless it was renamed away."""
    path = dst.with_name(f".{dst.name}.{secrets.token_hex(4)}{suffix}")
    try:  # not mkstemp: its 0600 mode would survive the rename; this one follows umask
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise ConvertError(f"cannot write beside {dst}: {exc}") from exc
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _quantize(src: Path, out: Path, ftype: str, threads: int, verbose: bool) -> None:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.nthread = threads
    params.ftype = FTYPES[ftype]
    params.allow_requantize = True
    with _llama_log(verbose) as errors:
        rc = llama_cpp.llama_model_quantize(
            os.fsencode(src), os.fsencode(out), ctypes.byref(params)
        )
    if rc != 0:
        detail = " ".join(errors).strip() or "no message from llama.cpp"
        raise ConvertError(f"quantizing {src.name} to {ftype} failed (code {rc}): {detail}")
    if not out.is_file() or out.stat().st_size == 0:
        raise ConvertError(f"quantizing {src.name} to {ftype} wrote nothing")


@contextlib.contextmanager
def _llama_log(verbose: bool) -> Iterator[list[str]]:
    """Collect llama.cpp's error lines (for ConvertError) while a quantize call runs; the
    rest (a line per tensor, warnings) goes to stderr only when verbose. llama.cpp has one
    process-wide log callback, so llama-cpp-python's own one is put back afterwards."""
    import llama_cpp
    from llama_cpp import _logger

    errors: list[str] = []
    last = [0]

    def on_log(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
        line = text.decode("utf-8", "replace")
        level = last[0] if level == _LOG_CONT else level
        last[0] = level
        if level == _LOG_ERROR:
            errors.append(line.strip())  # reported in ConvertError, not printed twice
        elif verbose:
            sys.stderr.write(line)

    callback = llama_cpp.llama_log_callback(on_log)  # kept alive by this frame
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    try:
        yield errors
    finally:
        llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))


def export_hf(gguf: Path, dst: Path, dtype: str = "bfloat16") -> Path:
    """A Hugging Face folder (config, tokenizer, safetensors) from a GGUF, for vLLM."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise ConvertError(
            f"exporting needs the images extra (torch, transformers): {exc}"
        ) from None
    if not gguf.is_file():
        raise ConvertError(f"no model file at {gguf}")
    if dst.exists():
        raise ConvertError(f"{dst} exists already")
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{dst.name}-", dir=dst.parent))
    except OSError as exc:
        raise ConvertError(f"cannot write to {dst.parent}: {exc.strerror or exc}") from None
    try:
        kw = {"gguf_file": gguf.name, "local_files_only": True}
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), **kw)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), dtype=getattr(torch, dtype), **kw
        )
        # Loaded from GGUF, the model remembers a quantizer it no longer has; a folder
        # saved with it cannot be loaded again.
        model.hf_quantizer = None  # type: ignore[assignment]
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(str(work))
        tokenizer.save_pretrained(str(work))
        work.chmod(0o755)  # mkdtemp made it private; vLLM may run as another user
        os.replace(work, dst)
    except ConvertError:
        raise
    except Exception as exc:  # transformers raises many kinds; one line says which
        raise ConvertError(f"cannot export {gguf.name}: {type(exc).__name__}: {exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dst
