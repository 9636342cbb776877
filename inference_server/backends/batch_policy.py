"""The batch scheduler's policy, as pure functions of plain values (no llama.cpp, no
threads): which free slot a new request takes and how much of its cached prefix it
keeps, and what one decode step holds. The scheduler thread in batched.py calls them;
tests/test_batch_policy.py checks them without a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


COPY_AT_LEAST = 16  # tokens another slot must hold beyond this one's own to copy them


@dataclass(frozen=True)
class SlotChoice:
    slot: int
    keep: int  # prompt tokens whose KV cache the slot keeps (or gets); the rest is fed
    donor: int | None = None  # the slot whose cache it copies them from, if another


def choose_slot(
    free: Sequence[int], cached: Sequence[Sequence[int]], tokens: Sequence[int]
) -> SlotChoice:
    """The free slot whose cached tokens share the longest prefix with the prompt
    ``tokens`` (the first of ``free`` on a tie; a persona's system prompt is usually
    what they share), and how many of those tokens to keep. When another slot, busy or
    not, holds a longer shared prefix (by ``COPY_AT_LEAST`` tokens or more: the other
    choices of an ``n`` > 1 request, channels with one persona), the chosen slot copies
    that prefix's cache from it instead. At least one prompt token is always fed again:
    the first new token needs its logits."""
    slot = max(free, key=lambda i: common_prefix(cached[i], tokens))
    own = min(common_prefix(cached[slot], tokens), len(tokens) - 1)
    others = [i for i in range(len(cached)) if i != slot]
    if others:
        donor = max(others, key=lambda i: common_prefix(cached[i], tokens))
        shared = min(common_prefix(cached[donor], tokens), len(tokens) - 1)
        if shared >= own + COPY_AT_LEAST:
            return SlotChoice(slot, shared, donor)
    return SlotChoice(slot, own)


@dataclass(frozen=True)
class Lane:
    """What the planner needs of a running sequence."""

    prompt_len: int
    fed: int  # prompt tokens in its KV cache so far

    @property
    def prefilling(self) -> bool:
        return self.fed < self.prompt_len


@dataclass(frozen=True)
class Plan:
    """One decode step, by positions in the lanes given to ``plan_step``."""

    decode: tuple[int, ...]  # lanes that feed their last sampled token
    prefill: tuple[tuple[int, int], ...]  # (lane, prompt tokens to feed from its ``fed``)

    @property
    def size(self) -> int:
        return len(self.decode) + sum(n for _, n in self.prefill)


def plan_step(lanes: Sequence[Lane], room: int, chunk: int) -> Plan:
    """Decoding lanes first, one token each, so a running stream is never starved; then,
    in order, prompt chunks of at most ``chunk`` tokens while the batch has ``room``.

    A prompt's last token always goes in a step of its own (one query row for its
    sequence), as it does when a cached prefix covers the rest: the first token's
    logits are then computed the same way whatever the cache held, so a seeded request
    repeats. (On some CPUs a multi-row attention pass gives the last row slightly
    different logits than a one-row pass.)
    """
    decode = tuple(i for i, lane in enumerate(lanes) if not lane.prefilling)
    left = room - len(decode)
    prefill = []
    for i, lane in enumerate(lanes):
        if not lane.prefilling or left <= 0:
            continue
        before_last = lane.prompt_len - 1 - lane.fed
        take = min(chunk, left, before_last if before_last > 0 else 1)
        prefill.append((i, take))
        left -= take
    return Plan(decode, tuple(prefill))
