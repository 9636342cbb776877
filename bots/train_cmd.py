"""``literai train FILES... --name NAME``: a LoRA adapter trained on CPU on the files
(text, Markdown, EPUB, a chat log exported as text), served afterwards as model alias
NAME by both engines. A progress bar with the loss and the ETA; Ctrl-C saves a
checkpoint that ``--resume`` continues; bad input is one line and exit 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inference_server.model_files import PACKAGED_MODELS, hf_folder, resolve_model_path
from inference_server.settings import ModelSettings
from literai_core.documents import DocumentError, read_document

from .config import LiteraiConfig

MAX_FILE_BYTES = 100_000_000


def add_parser(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser(
        "train", help="train the bot's voice on your own texts (LoRA on CPU; served as NAME)"
    )
    train.add_argument("files", nargs="+", help=".txt, .md, .epub or a chat log (.log, .txt)")
    train.add_argument("--name", required=True, help="the new model's alias")
    train.add_argument("--base", default="smollm2", help="a packaged model alias to train")
    train.add_argument(
        "--minutes", type=_bounded(float, 0.1, 24 * 60), default=30.0,
        help="training time budget (default 30)",
    )  # fmt: skip
    train.add_argument("--epochs", type=_bounded(int, 1, 100), default=3, help="at most (3)")
    train.add_argument(
        "--block", type=_bounded(int, 16, 2048), default=256, help="tokens per example (256)"
    )
    train.add_argument("--resume", action="store_true", help="continue a stopped run")
    train.add_argument("--force", action="store_true", help="start over / replace NAME")
    train.add_argument("--config", help="deployment YAML (default: built-in defaults)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")


def _bounded(kind: type, low: float, high: float):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low:g}-{high:g}, got {text}")
        return value

    return parse


def _read(files: list[str]) -> list[str]:
    return [read_document(Path(name), MAX_FILE_BYTES) for name in files]


def train(config: LiteraiConfig, args: argparse.Namespace) -> int:
    from inference_server.training.job import Plan, check_start, describe, finish, open_run
    from inference_server.training.lora import TrainError, TrainSettings

    if args.base not in PACKAGED_MODELS:
        known = ", ".join(PACKAGED_MODELS)
        print(f"literai: --base {args.base!r} is not a packaged model ({known})", file=sys.stderr)
        return 2
    data = Path(config.data_dir)
    plan = Plan(
        name=args.name,
        base=args.base,
        base_gguf=resolve_model_path(args.base, ModelSettings()),
        hf=hf_folder(args.base, data),
        data_dir=data,
        quant=config.server.models.get(args.base, ModelSettings()).quant,
    )
    try:
        texts = _read(args.files)
        check_start(plan, set(config.server.models), resume=args.resume, force=args.force)
    except (DocumentError, TrainError) as exc:
        print(f"literai: {exc}", file=sys.stderr)
        return 2
    _quiet_libraries()
    try:
        _ensure_hf(plan.base_gguf, plan.hf)
        settings = TrainSettings(minutes=args.minutes, epochs=args.epochs, block=args.block)
        trainer, settings = open_run(plan, texts, settings, resume=args.resume)
    except TrainError as exc:
        print(f"literai: {exc}", file=sys.stderr)
        return 2
    print(f"literai: training {args.name} on {describe(trainer.corpus)}", file=sys.stderr)
    state = _train_with_bar(trainer, args, quiet=args.quiet)
    if state is None:
        return 130
    print(f"literai: {state.stopped}; writing the model files", file=sys.stderr)
    try:
        model = finish(plan, trainer, state)
    except Exception as exc:
        print(f"literai: writing {args.name} failed: {exc}", file=sys.stderr)
        return 1
    before, best = model.manifest()["held_loss_before"], state.best_loss
    print(
        f"literai: {args.name} is ready: held-out loss {before:.3f} -> {best:.3f}; "
        f"`literai serve` and `run` serve it as model {args.name!r}",
        file=sys.stderr,
    )
    print(model.folder)
    return 0


def _train_with_bar(trainer, args: argparse.Namespace, *, quiet: bool):
    from tqdm import tqdm

    from inference_server.training.lora import Tick, total_steps

    total = total_steps(trainer.corpus, trainer.settings)
    bar = tqdm(total=total, initial=trainer.state.step, file=sys.stderr, disable=quiet,
               desc=f"training {args.name}", unit="step")  # fmt: skip

    def tick(t: Tick) -> None:
        shown = {"loss": f"{t.loss:.3f}", "best held-out": f"{t.best_loss:.3f}"}
        bar.set_postfix(shown, refresh=False)
        bar.update(t.step - bar.n)

    try:
        return trainer.run(tick)
    except KeyboardInterrupt:
        bar.close()
        print(
            f"literai: stopped at step {trainer.state.step} of {total}; the checkpoint is saved "
            f"and `literai train ... --name {args.name} --resume` continues",
            file=sys.stderr,
        )
        return None
    finally:
        bar.close()


def _ensure_hf(gguf: Path, hf: Path) -> None:
    from inference_server.models import ConvertError, export_hf
    from inference_server.training.lora import TrainError

    if (hf / "config.json").is_file():
        return
    print(f"literai: exporting {gguf.name} to {hf} first (once)", file=sys.stderr)
    try:
        export_hf(gguf, hf)
    except ConvertError as exc:
        raise TrainError(str(exc)) from None


def _quiet_libraries() -> None:
    """transformers' and peft's load bars and notices would garble the training bar."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", module="peft")
    warnings.filterwarnings("ignore", module="transformers")
