"""A training corpus as token blocks: every text tokenized, documents joined by the end
token, cut into equal blocks; every tenth block is held out for evaluation, spread over
the whole corpus so both halves read alike. Nothing here imports torch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

MIN_BLOCKS = 20
"""Fewer blocks than this cannot both train and measure (two held-out blocks at 10%)."""
HELD_EVERY = 10  # the held-out 10%
GOOD_CHARS = 200_000  # where a corpus starts to give a model its voice (README)


class CorpusError(ValueError):
    """The corpus cannot train a model; ``str()`` is one line saying what is needed."""


@dataclass(frozen=True)
class Corpus:
    train: list[list[int]]
    held: list[list[int]]
    chars: int
    block: int

    @property
    def train_tokens(self) -> int:
        return len(self.train) * self.block


def make_corpus(
    texts: Sequence[str], tokenize: Callable[[str], list[int]], eos: int, block: int
) -> Corpus:
    """Blocks of ``block`` tokens from ``texts``; CorpusError when there are too few."""
    if block < 8:
        raise CorpusError(f"a block is at least 8 tokens, not {block}")
    stream: list[int] = []
    for text in texts:
        if text.strip():
            stream += tokenize(text)
            stream.append(eos)
    chars = sum(len(t) for t in texts)
    blocks = [stream[i : i + block] for i in range(0, len(stream) - block + 1, block)]
    if len(blocks) < MIN_BLOCKS:
        per_token = chars / max(1, len(stream))
        need = int(MIN_BLOCKS * block * per_token) + 1 if stream else MIN_BLOCKS * block * 4
        raise CorpusError(
            f"the corpus is too small: {chars:,} characters make {len(blocks)} blocks of "
            f"{block} tokens, and at least {MIN_BLOCKS} are needed (about {need:,} "
            f"characters); {GOOD_CHARS:,} or more give the model a voice"
        )
    held = blocks[HELD_EVERY - 1 :: HELD_EVERY]
    train = [b for i, b in enumerate(blocks) if i % HELD_EVERY != HELD_EVERY - 1]
    return Corpus(train=train, held=held, chars=chars, block=block)


def epoch_order(n: int, epoch: int, seed: int) -> list[int]:
    """The training blocks' order in one epoch: a shuffle that depends only on the seed
    and the epoch, so a resumed run sees the same batches as an unbroken one."""
    import random

    order = list(range(n))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return order
