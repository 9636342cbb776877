"""Where trained models live and how the server finds them.

``data_dir/trained/NAME/`` holds one finished model: ``model.gguf`` (the adapter merged
and quantized like the base: llama.cpp), ``adapter.gguf`` (the same adapter for
llama.cpp to apply at load), ``peft/`` (for vLLM's ``--enable-lora``) and ``train.json``,
written last. A folder appears under its name only when complete (renamed into place);
a run in progress or stopped lives in ``.NAME.run/`` and is never served.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..model_files import resolve_model_path
from ..settings import ModelSettings

log = logging.getLogger(__name__)

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
MANIFEST = "train.json"


@dataclass(frozen=True)
class TrainedModel:
    name: str
    folder: Path

    @property
    def gguf(self) -> Path:
        return self.folder / "model.gguf"

    @property
    def adapter_gguf(self) -> Path:
        return self.folder / "adapter.gguf"

    @property
    def peft(self) -> Path:
        return self.folder / "peft"

    def manifest(self) -> dict[str, Any]:
        data = json.loads((self.folder / MANIFEST).read_text())
        return data if isinstance(data, dict) else {}

    @property
    def base(self) -> str:
        """The alias of the model it was trained from."""
        try:
            return str(self.manifest().get("base", ""))
        except (OSError, ValueError):
            return ""


def trained_root(data_dir: Path) -> Path:
    return Path(data_dir) / "trained"


def run_dir(data_dir: Path, name: str) -> Path:
    """A run's working folder: checkpoints, the best adapter, the plan."""
    return trained_root(data_dir) / f".{name}.run"


def find_trained(data_dir: Path | None) -> dict[str, TrainedModel]:
    """Every finished trained model under ``data_dir``, by name."""
    if data_dir is None:
        return {}
    root = trained_root(data_dir)
    if not root.is_dir():
        return {}
    found = {}
    for folder in sorted(root.iterdir()):
        if NAME.match(folder.name) and (folder / MANIFEST).is_file():
            found[folder.name] = TrainedModel(folder.name, folder)
    return found


def serve_trained(
    models: dict[str, ModelSettings], mode: str, data_dir: Path | None
) -> tuple[dict[str, ModelSettings], dict[str, dict[str, Path]]]:
    """The trained models the server adds to the configured ones: llama.cpp aliases
    (merged GGUF, or the base with the adapter applied) and, by vLLM base alias, the
    PEFT folders that engine serves with ``--enable-lora``. A configured alias wins; a
    model whose base is not configured (or runs remotely) is skipped with a warning."""
    extra: dict[str, ModelSettings] = {}
    loras: dict[str, dict[str, Path]] = {}
    if mode == "off":
        return extra, loras
    for name, trained in find_trained(data_dir).items():
        base = models.get(trained.base)
        if name in models:
            log.warning("trained model %s: an alias in the config has its name; not served", name)
        elif base is None or base.engine not in ("llama.cpp", "vllm"):
            log.warning("trained model %s: its base %r is not served here", name, trained.base)
        elif base.engine == "vllm":
            loras.setdefault(trained.base, {})[name] = trained.peft
        elif mode == "adapter":
            path = resolve_model_path(trained.base, base, data_dir)
            extra[name] = base.model_copy(
                update={"path": str(path), "lora": str(trained.adapter_gguf)}
            )
        else:
            extra[name] = base.model_copy(update={"path": str(trained.gguf), "lora": None})
    return extra, loras
