"""One ``literai train`` run from texts to a served model: the checks that need no
training (name, disk, corpus size), the run folder and its plan, and the finish that
writes every engine's files and moves the model into place in one rename."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .corpus import Corpus, CorpusError, make_corpus
from .lora import State, Trainer, TrainError, TrainSettings
from .trained import MANIFEST, NAME, TrainedModel, run_dir, trained_root

PLAN = "plan.json"


@dataclass(frozen=True)
class Plan:
    name: str
    base: str  # the base model's alias
    base_gguf: Path  # the GGUF the merge starts from (the packaged file)
    hf: Path  # its Hugging Face export, which training loads
    data_dir: Path
    quant: str = "q8_0"  # what the merged model is quantized to, like the base


def check_start(plan: Plan, taken: set[str], *, resume: bool, force: bool) -> None:
    """TrainError for a run that cannot start: a bad or clashing name, no disk space,
    a resume with nothing to resume, a fresh start over a stopped run."""
    name = plan.name
    if not NAME.match(name):
        raise TrainError(
            f"{name!r} is not a usable name: lower-case letters, digits, - and _, "
            "starting with a letter or digit, at most 63 characters"
        )
    if name in taken:
        raise TrainError(f"{name!r} is already a model alias in the config; pick another name")
    folder = trained_root(plan.data_dir) / name
    if folder.exists() and not force:
        raise TrainError(f"a trained model {name!r} exists already ({folder}); --force replaces it")
    work = run_dir(plan.data_dir, name)
    if resume and not (work / PLAN).is_file():
        raise TrainError(f"there is no stopped run of {name!r} to resume")
    if not resume and work.exists() and not force:
        raise TrainError(
            f"a stopped run of {name!r} exists: --resume continues it, --force starts over"
        )
    root = trained_root(plan.data_dir)
    root.mkdir(parents=True, exist_ok=True)
    need = 7 * plan.base_gguf.stat().st_size + 200_000_000  # F32 merge + copies + checkpoints
    free = shutil.disk_usage(root).free
    if free < need:
        raise TrainError(
            f"not enough disk space in {root}: {free / 1e9:.1f} GB free, "
            f"about {need / 1e9:.1f} GB needed"
        )


def corpus_digest(texts: list[str]) -> str:
    h = hashlib.sha256()
    for text in texts:
        h.update(hashlib.sha256(text.encode()).digest())
    return h.hexdigest()[:16]


def open_run(
    plan: Plan, texts: list[str], settings: TrainSettings, *, resume: bool
) -> tuple[Trainer, TrainSettings]:
    """The corpus cut into blocks and a Trainer in the run folder. A resumed run keeps
    the settings it started with and refuses a changed corpus."""
    from transformers import AutoTokenizer

    work = run_dir(plan.data_dir, plan.name)
    digest = corpus_digest(texts)
    if resume:
        saved = json.loads((work / PLAN).read_text())
        if saved["corpus"] != digest:
            raise TrainError("the files differ from the ones the stopped run started with")
        settings = TrainSettings(
            **{**saved["settings"], "targets": tuple(saved["settings"]["targets"])}
        )
    else:
        shutil.rmtree(work, ignore_errors=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(plan.hf), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise TrainError(f"cannot load the tokenizer at {plan.hf}: {exc}") from None

    def tokenize(text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    try:
        corpus = make_corpus(texts, tokenize, int(tokenizer.eos_token_id), settings.block)
    except CorpusError as exc:
        raise TrainError(str(exc)) from None
    work.mkdir(parents=True, exist_ok=True)
    if not resume:
        plan_data = {"corpus": digest, "settings": asdict(settings), "base": plan.base}
        (work / PLAN).write_text(json.dumps(plan_data))
    return Trainer(plan.hf, corpus, settings, work), settings


def describe(corpus: Corpus) -> str:
    return (
        f"{corpus.chars:,} characters: {len(corpus.train)} training and {len(corpus.held)} "
        f"held-out blocks of {corpus.block} tokens"
    )


def finish(plan: Plan, trainer: Trainer, state: State) -> TrainedModel:
    """Write the model's files from the best adapter and move the folder into place."""
    from ..models import convert_gguf
    from .gguf_out import merge_into_gguf, write_adapter_gguf

    work = run_dir(plan.data_dir, plan.name)
    best = work / "best"
    part = trained_root(plan.data_dir) / f".{plan.name}.partial"
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    shutil.copytree(best, part / "peft")
    _point_at_base(part / "peft", plan.hf)
    merged = part / ".merged-f32.gguf"
    merge_into_gguf(plan.base_gguf, best, merged)
    convert_gguf(merged, part / "model.gguf", plan.quant)
    merged.unlink()
    write_adapter_gguf(plan.base_gguf, best, part / "adapter.gguf")
    corpus = trainer.corpus
    manifest: dict[str, Any] = {
        "name": plan.name,
        "base": plan.base,
        "quant": plan.quant,
        "settings": asdict(trainer.settings),
        "corpus_chars": corpus.chars,
        "train_tokens": corpus.train_tokens,
        "held_tokens": len(corpus.held) * corpus.block,
        "steps": state.step,
        "seconds": round(state.seconds, 1),
        "best_step": state.best_step,
        "held_loss_before": state.losses[0][2] if state.losses else None,
        "held_loss_best": state.best_loss,
        "stopped": state.stopped,
    }
    (part / MANIFEST).write_text(json.dumps(manifest, indent=1))
    final = trained_root(plan.data_dir) / plan.name
    if final.exists():  # --force
        shutil.rmtree(final)
    os.replace(part, final)
    shutil.rmtree(work, ignore_errors=True)
    return TrainedModel(plan.name, final)


def _point_at_base(peft: Path, hf: Path) -> None:
    """The PEFT config names the base folder vLLM serves it on."""
    config_path = peft / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = str(hf.resolve())
    config_path.write_text(json.dumps(config, indent=1))
