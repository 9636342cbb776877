"""Text engines by name: each ``server.models.*.engine`` value and the function that
builds its backend. A builder imports its backend's module itself, so a deployment pays
only for the engines it configures (llama_cpp, the openai client, subprocess tools).

Adding an engine: write its backend (the ``TextBackend`` port in base.py), add a builder
here and its name to ``ModelSettings.engine`` (settings.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from ..model_files import chat_template_path, resolve_model_path
from ..settings import ModelSettings
from .base import TextBackend

Builder = Callable[[str, ModelSettings, Path | None, str | None], TextBackend]
"""(alias, its settings, the data folder, its API key) -> an unloaded backend."""


def _llama_cpp(
    alias: str, model: ModelSettings, data_dir: Path | None, api_key: str | None
) -> TextBackend:
    from .batched import BatchedLlamaCpp

    return BatchedLlamaCpp(
        alias,
        resolve_model_path(alias, model, data_dir),
        n_ctx=model.n_ctx,
        slots=model.slots,
        n_threads=model.n_threads,
        n_threads_batch=model.n_threads_batch,
        n_batch=model.n_batch,
        prefill_chunk=model.prefill_chunk,
        flash_attn=model.flash_attn,
        lora=Path(model.lora).expanduser() if model.lora else None,
        chat_template=chat_template_path(alias, model),
        repack=model.repack,
    )


def _vllm(
    alias: str, model: ModelSettings, data_dir: Path | None, api_key: str | None
) -> TextBackend:
    from .vllm import managed_vllm

    return managed_vllm(alias, model, data_dir)


def _remote(
    alias: str, model: ModelSettings, data_dir: Path | None, api_key: str | None
) -> TextBackend:
    from .remote import remote_openai

    return remote_openai(alias, model, api_key)


def _echo(
    alias: str, model: ModelSettings, data_dir: Path | None, api_key: str | None
) -> TextBackend:
    from .echo import EchoBackend

    return EchoBackend(alias, n_ctx=model.n_ctx, max_parallel=model.slots)


ENGINES: Mapping[str, Builder] = MappingProxyType(
    {"llama.cpp": _llama_cpp, "vllm": _vllm, "remote": _remote, "echo": _echo}
)


def build_backend(
    alias: str, model: ModelSettings, data_dir: Path | None = None, api_key: str | None = None
) -> TextBackend:
    """The backend for one configured model (not loaded yet); ConfigError for what its
    engine cannot find (a model file, vLLM's virtualenv)."""
    return ENGINES[model.engine](alias, model, data_dir, api_key)


def vllm_loras(base: TextBackend, adapters: Mapping[str, Path]) -> dict[str, TextBackend]:
    """Trained adapters served by a managed vLLM as models of their own (--enable-lora),
    each behind an alias that sends its name to that engine."""
    from .vllm import ManagedVllm, VllmLora

    if not isinstance(base, ManagedVllm):
        return {}
    base.add_loras(adapters)
    return {name: VllmLora(name, base) for name in adapters}
