"""One request inside the batched engine (batched.py): its state in the scheduler, and
the reader's side of the queue the scheduler hands its tokens through."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .base import BackendError, CancelToken, Sampled, SamplingParams
from .llama_prompt import Run

END = object()  # put after a sequence's last token


@dataclass(eq=False)
class Seq:
    """One request inside the scheduler."""

    run: Run
    params: SamplingParams
    cancel: CancelToken
    out: queue.SimpleQueue[object] = field(default_factory=queue.SimpleQueue)
    slot: int = -1
    fed: int = 0  # prompt tokens in the KV cache
    produced: int = 0
    last: int = -1  # the last sampled token, fed in the next step
    sampler: Any = None
    done: bool = False  # set by the reader: it stopped reading (stop string, cancel)
    prompt_scores: list[Sampled] = field(default_factory=list)  # with prompt_logprobs


def read(
    seq: Seq, alive: Callable[[], bool], wake: Callable[[], None]
) -> Iterator[int | Sampled | list[Sampled]]:
    """What the scheduler hands ``seq``: tokens (scored ones as ``Sampled``, the
    prompt's scores as a list) until END; its error raised; BackendError when the
    scheduler is no longer ``alive``. However the reader stops, ``seq`` is marked done
    and the scheduler woken, so its slot is freed next step."""
    try:
        while True:
            try:
                item = seq.out.get(timeout=0.25)
            except queue.Empty:
                if seq.cancel.cancelled:
                    return
                if not alive():
                    raise BackendError("the text engine stopped") from None
                continue
            if item is END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, (int, Sampled, list))
            yield item
    finally:
        seq.done = True
        wake()
