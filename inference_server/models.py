"""Model files made from the packaged one, once, into the data folder.

- ``convert_gguf``: the packaged SmolLM2 is Q4_1, for which llama.cpp's CPU backend has no
  repacked fast path; Q4_0 is repacked at load (``q4_0_8x8``) and decodes batches about
  twice as fast, with greedy output that does not depend on what else is in the batch.
  Dequantizing to F16 first and quantizing from there is compared with requantizing
  directly in ``bench/quality.py``.
- ``export_hf``: vLLM loads Hugging Face folders, not GGUF; transformers reads the GGUF
  (dequantized, with the ``gguf`` package) and writes a safetensors folder.

Both write next to the destination and rename into place: a crash leaves no half file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

FTYPES = ("q4_0", "q8_0", "f16")


class ConvertError(Exception):
    """The conversion failed; ``str()`` says why in one line."""


def convert_gguf(
    src: Path, dst: Path, ftype: str = "q4_0", *, via: str = "f16", threads: int = 2
) -> Path:
    """Write ``src`` as ``ftype`` to ``dst``. ``via="f16"`` dequantizes to F16 first and
    quantizes from there; ``via="direct"`` requantizes in one go."""
    import llama_cpp

    codes = {
        "q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0,
        "q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0,
        "f16": llama_cpp.LLAMA_FTYPE_MOSTLY_F16,
    }
    if ftype not in codes:
        raise ConvertError(f"unknown type {ftype!r} (one of {', '.join(FTYPES)})")
    if via not in ("f16", "direct"):
        raise ConvertError(f"unknown path {via!r} (f16 or direct)")
    if not src.is_file():
        raise ConvertError(f"no model file at {src}")
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{dst.name}-", dir=dst.parent))
    except OSError as exc:
        raise ConvertError(f"cannot write to {dst.parent}: {exc.strerror or exc}") from None

    def quantize(a: Path, b: Path, code: int) -> None:
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = code
        params.allow_requantize = True
        params.nthread = threads
        rc = llama_cpp.llama_model_quantize(str(a).encode(), str(b).encode(), params)
        if rc != 0 or not b.is_file():
            raise ConvertError(f"llama.cpp could not quantize {a.name} to {ftype} (code {rc})")

    try:
        source = src
        if via == "f16" and ftype != "f16":
            source = work / "f16.gguf"
            quantize(src, source, codes["f16"])
        out = work / dst.name
        quantize(source, out, codes[ftype])
        os.replace(out, dst)
    except OSError as exc:
        raise ConvertError(f"cannot write {dst}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dst


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
