"""A trained PEFT adapter as what llama.cpp serves, written with the ``gguf`` package.

Written here rather than with llama.cpp's ``convert_lora_to_gguf.py`` because that
script is not packaged anywhere installable offline (llama-cpp-python ships the C++
library, not the converters); the mapping it does for llama models is small and is
checked against the HF export by the tests.

- ``merge_into_gguf``: the base GGUF with ``W + alpha/r * B @ A`` in every adapted
  matrix (dequantized to F32), every other tensor and all metadata copied as they are;
  ``models.convert_gguf`` then quantizes it like the base.
- ``write_adapter_gguf``: a llama.cpp LoRA adapter (``general.type = adapter``) that
  ``server.models.*.lora`` applies at load, for comparison (bench/finetune.py).

llama.cpp stores the query and key matrices with their rows permuted for its rope
layout (the HF export undoes it), so B's rows are permuted the same way for those two.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

HF_TO_GGUF = {
    "q_proj": "attn_q",
    "k_proj": "attn_k",
    "v_proj": "attn_v",
    "o_proj": "attn_output",
    "gate_proj": "ffn_gate",
    "up_proj": "ffn_up",
    "down_proj": "ffn_down",
}
_KEY = re.compile(r"layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_([AB])\.weight$")


class ExportError(Exception):
    """The adapter could not be written out; ``str()`` is one line."""


def load_adapter(
    folder: Path,
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], float, float]:
    """A PEFT folder's pairs by GGUF tensor name (``blk.N.attn_q.weight``: (A, B)), and
    its ``lora_alpha`` and rank ``r`` (the merge scales by ``alpha / r``)."""
    from safetensors.numpy import load_file

    try:
        config = json.loads((folder / "adapter_config.json").read_text())
        tensors = load_file(str(folder / "adapter_model.safetensors"))
    except (OSError, ValueError) as exc:
        raise ExportError(f"cannot read the adapter in {folder}: {exc}") from None
    halves: dict[str, dict[str, np.ndarray]] = {}
    for key, value in tensors.items():
        match = _KEY.search(key)
        if match is None or match[2] not in HF_TO_GGUF:
            raise ExportError(f"the adapter has a tensor this export cannot map: {key}")
        name = f"blk.{match[1]}.{HF_TO_GGUF[match[2]]}.weight"
        halves.setdefault(name, {})[match[3]] = value.astype(np.float32)
    pairs = {name: (h["A"], h["B"]) for name, h in halves.items()}
    return pairs, float(config["lora_alpha"]), float(config["r"])


def _heads(reader: Any) -> tuple[int, int]:
    def value(key: str) -> int:
        field = reader.fields.get(key)
        if field is None:
            raise ExportError(f"the base model has no {key}")
        return int(field.contents())

    arch = str(reader.fields["general.architecture"].contents())
    if arch != "llama":
        raise ExportError(f"only llama-architecture models can be merged, not {arch}")
    return value("llama.attention.head_count"), value("llama.attention.head_count_kv")


def _permute(b: np.ndarray, name: str, heads: tuple[int, int]) -> np.ndarray:
    """B's rows in llama.cpp's query/key layout (convert_hf_to_gguf.py's ``permute``)."""
    if ".attn_q." in name:
        n = heads[0]
    elif ".attn_k." in name:
        n = heads[1]
    else:
        return b
    return b.reshape(n, 2, b.shape[0] // n // 2, *b.shape[1:]).swapaxes(1, 2).reshape(b.shape)


def merge_into_gguf(base: Path, adapter: Path, out: Path) -> int:
    """Write ``base`` with the adapter merged in to ``out`` (adapted matrices as F32);
    returns how many tensors changed."""
    import gguf

    pairs, alpha, rank = load_adapter(adapter)
    scale = alpha / rank
    reader = gguf.GGUFReader(base)
    heads = _heads(reader)
    writer = gguf.GGUFWriter(out, arch="llama", endianess=reader.endianess)
    _copy_metadata(reader, writer)
    tensors: list[tuple[str, np.ndarray, Any]] = []
    for t in reader.tensors:
        if t.name in pairs:
            a, b = pairs.pop(t.name)
            w = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
            delta = scale * (_permute(b, t.name, heads) @ a)
            if delta.shape != w.shape:
                raise ExportError(f"{t.name}: adapter {delta.shape} does not fit {w.shape}")
            tensors.append((t.name, w + delta, gguf.GGMLQuantizationType.F32))
        else:
            tensors.append((t.name, t.data, t.tensor_type))
    if pairs:
        raise ExportError(f"the base model has no tensor {next(iter(pairs))}")
    for name, data, qtype in tensors:
        writer.add_tensor_info(name, data.shape, data.dtype, data.nbytes, qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for _name, data, _qtype in tensors:
        writer.write_tensor_data(data)
    writer.close()
    return sum(1 for _n, _d, q in tensors if q == gguf.GGMLQuantizationType.F32)


def _copy_metadata(reader: Any, writer: Any) -> None:
    """Every key of the base but the ones the writer sets itself (gguf_new_metadata.py)."""
    import gguf

    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub)


def write_adapter_gguf(base: Path, adapter: Path, out: Path) -> None:
    """A llama.cpp LoRA adapter for ``base`` from a PEFT folder."""
    import gguf

    pairs, alpha, _rank = load_adapter(adapter)  # llama.cpp scales by alpha / rank itself
    heads = _heads(gguf.GGUFReader(base))
    writer = gguf.GGUFWriter(out, arch="llama")
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", alpha)
    for name, (a, b) in sorted(pairs.items()):
        stem = name.removesuffix(".weight")
        writer.add_tensor(f"{stem}.weight.lora_a", np.ascontiguousarray(a))
        writer.add_tensor(f"{stem}.weight.lora_b", np.ascontiguousarray(_permute(b, name, heads)))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
