"""Training a LoRA adapter with peft on torch's CPU build.

The base is the embedded model's Hugging Face export (fp32 in memory). Every step is one
batch of blocks; the held-out blocks are scored every ``eval_every`` steps, the best
adapter so far is kept, and training stops early after ``patience`` evaluations without
a better held-out loss, at the time budget, or after ``epochs``. A checkpoint (adapter,
optimizer, schedule, counters) is written atomically at every evaluation and when the run
is interrupted, so ``resume`` continues where it stopped with the same batches.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .corpus import Corpus, epoch_order

log = logging.getLogger(__name__)

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class TrainError(Exception):
    """Training could not run or continue; ``str()`` is one line."""


@dataclass(frozen=True)
class TrainSettings:
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    lr: float = 2e-4
    batch: int = 4
    block: int = 256
    epochs: int = 3
    minutes: float = 30.0  # the time budget for training steps
    eval_every: int = 25
    patience: int = 3
    threads: int = 2
    seed: int = 0
    targets: tuple[str, ...] = TARGETS


@dataclass
class State:
    """What a checkpoint holds besides the tensors."""

    step: int = 0
    best_loss: float = math.inf
    best_step: int = 0
    bad_evals: int = 0
    seconds: float = 0.0  # training time spent so far, over every resumed run
    losses: list[tuple[int, float, float]] = field(default_factory=list)  # step, train, eval
    stopped: str = ""


@dataclass(frozen=True)
class Tick:
    """One step's news for the progress bar."""

    step: int
    total: int
    loss: float
    eval_loss: float | None
    best_loss: float


def total_steps(corpus: Corpus, settings: TrainSettings) -> int:
    return steps_per_epoch(corpus, settings) * settings.epochs


def steps_per_epoch(corpus: Corpus, settings: TrainSettings) -> int:
    return max(1, len(corpus.train) // settings.batch)


class Trainer:
    """One run in ``run_dir`` (``checkpoint/``, ``best/``, ``state.json``)."""

    def __init__(self, base: Path, corpus: Corpus, settings: TrainSettings, run_dir: Path) -> None:
        import torch

        torch.set_num_threads(settings.threads)
        self.corpus, self.settings, self.run_dir = corpus, settings, run_dir
        self.state = State()
        self.model, self.optimizer, self.schedule = self._build(base)

    def _build(self, base: Path) -> tuple[Any, Any, Any]:
        import torch
        from peft import LoraConfig, PeftModel, get_peft_model
        from transformers import AutoModelForCausalLM

        s = self.settings
        torch.manual_seed(s.seed)
        model: Any
        try:
            model = AutoModelForCausalLM.from_pretrained(
                str(base), dtype=torch.float32, local_files_only=True
            )
        except (OSError, ValueError) as exc:
            raise TrainError(f"cannot load the base model at {base}: {exc}") from None
        checkpoint = self.run_dir / "checkpoint"
        for kept in (checkpoint, self.run_dir / "best"):
            _recover(kept)
        if checkpoint.is_dir():
            model = PeftModel.from_pretrained(model, str(checkpoint), is_trainable=True)
        else:
            config = LoraConfig(
                r=s.rank, lora_alpha=s.alpha, lora_dropout=s.dropout,
                target_modules=list(s.targets), task_type="CAUSAL_LM",
            )  # fmt: skip
            model = get_peft_model(model, config)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=s.lr, weight_decay=0.0)
        total = total_steps(self.corpus, s)
        warm = max(1, total // 20)

        def factor(step: int) -> float:  # linear warm-up, then cosine to a tenth
            if step < warm:
                return (step + 1) / warm
            done = min(1.0, (step - warm) / max(1, total - warm))
            return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * done))

        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        if checkpoint.is_dir():
            saved = self._restore(checkpoint)
            optimizer.load_state_dict(saved["optimizer"])
            schedule.load_state_dict(saved["schedule"])
        return model, optimizer, schedule

    def _restore(self, checkpoint: Path) -> dict[str, Any]:
        """The counters into ``self.state``; the optimizer's and schedule's states."""
        import torch

        try:
            saved = torch.load(checkpoint / "trainer.pt", weights_only=True)
            raw = json.loads((checkpoint / "state.json").read_text())
        except (OSError, ValueError, RuntimeError) as exc:
            raise TrainError(f"the checkpoint in {checkpoint} cannot be read: {exc}") from None
        raw["losses"] = [tuple(x) for x in raw.get("losses", [])]
        self.state = State(**raw)
        return dict(saved)

    # -- the loop ------------------------------------------------------------------

    def run(
        self,
        on_tick: Callable[[Tick], None] = lambda _t: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> State:
        """Train until done, stopped early, or out of time; KeyboardInterrupt saves a
        checkpoint first and propagates."""
        s, st = self.settings, self.state
        total = total_steps(self.corpus, s)
        if st.stopped:
            return st
        if st.step == 0 and not (self.run_dir / "best").is_dir():
            st.best_loss = self.evaluate()  # the base model's held-out loss
            st.losses.append((0, math.nan, st.best_loss))
            self._save_best()
        started, spent = clock(), st.seconds
        try:
            while not st.stopped:
                if st.step >= total:
                    st.stopped = "finished the planned epochs"
                    break
                loss = self._step(st.step)
                st.step += 1
                st.seconds = spent + clock() - started
                eval_loss = None
                if st.step % s.eval_every == 0 or st.step == total:
                    eval_loss = self._evaluate_and_keep(loss)
                if st.seconds >= s.minutes * 60 and not st.stopped:
                    st.stopped = f"reached the time budget ({s.minutes:g} min)"
                on_tick(Tick(st.step, total, loss, eval_loss, st.best_loss))
        except KeyboardInterrupt:
            st.seconds = spent + clock() - started
            self.save_checkpoint()
            raise
        if not st.losses or st.losses[-1][0] != st.step:
            self._evaluate_and_keep(math.nan)
        self.save_checkpoint()
        return st

    def _step(self, step: int) -> float:
        import torch

        s = self.settings
        per = steps_per_epoch(self.corpus, s)
        order = epoch_order(len(self.corpus.train), step // per, s.seed)
        at = (step % per) * s.batch
        ids = torch.tensor([self.corpus.train[i] for i in order[at : at + s.batch]])
        self.model.train()
        loss = self.model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], 1.0)
        self.optimizer.step()
        self.schedule.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(loss.item())

    def evaluate(self) -> float:
        """Mean loss per token on the held-out blocks."""
        import torch

        self.model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for at in range(0, len(self.corpus.held), self.settings.batch):
                ids = torch.tensor(self.corpus.held[at : at + self.settings.batch])
                total += float(self.model(input_ids=ids, labels=ids).loss) * len(ids)
                count += len(ids)
        return total / max(1, count)

    def _evaluate_and_keep(self, train_loss: float) -> float:
        st = self.state
        eval_loss = self.evaluate()
        st.losses.append((st.step, train_loss, eval_loss))
        if eval_loss < st.best_loss - 1e-4:
            st.best_loss, st.best_step, st.bad_evals = eval_loss, st.step, 0
            self._save_best()
        else:
            st.bad_evals += 1
            if st.bad_evals >= self.settings.patience and not st.stopped:
                st.stopped = f"held-out loss stopped improving (best at step {st.best_step})"
        self.save_checkpoint()
        return eval_loss

    # -- files -----------------------------------------------------------------------

    def _save_best(self) -> None:
        _replace_dir(self.run_dir / "best", lambda tmp: self.model.save_pretrained(str(tmp)))

    def save_checkpoint(self) -> None:
        import torch

        def write(tmp: Path) -> None:
            self.model.save_pretrained(str(tmp))
            saved = {
                "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict(),
            }
            torch.save(saved, tmp / "trainer.pt")
            (tmp / "state.json").write_text(json.dumps(asdict(self.state)))

        _replace_dir(self.run_dir / "checkpoint", write)


def _recover(dst: Path) -> None:
    """After a kill between the two renames of ``_replace_dir``: the old folder back."""
    old = dst.with_name(f".{dst.name}.old")
    if not dst.exists() and old.is_dir():
        os.replace(old, dst)


def _replace_dir(dst: Path, write: Callable[[Path], None]) -> None:
    """Write a folder beside ``dst`` and swap it in: a kill at any moment leaves either
    the old folder or the new one (an ``.old`` one is swept up next time)."""
    tmp, old = dst.with_name(f".{dst.name}.tmp"), dst.with_name(f".{dst.name}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    if dst.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dst, old)
    os.replace(tmp, dst)
    shutil.rmtree(old, ignore_errors=True)
