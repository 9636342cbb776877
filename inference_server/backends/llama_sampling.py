"""Per-request sampling for the batched llama.cpp engine: a llama.cpp sampler chain
built from a request's parameters, as the single-stream engine samples, or a plain
argmax over the logits for greedy requests without penalties."""

from __future__ import annotations

import random
from typing import Any

from .base import SamplingParams

PENALTY_LAST_N = 64  # as llama-cpp-python's high-level sampler (last_n_tokens_size)


def sampler_chain(params: SamplingParams, n_vocab: int) -> Any:
    """The request's own chain (penalties, top-p, temperature, seed), or None for plain
    greedy (no penalties), which ``greedy_token`` does as an argmax: the same token,
    without copying 49k candidates per sequence per step. Free it with ``free``."""
    import llama_cpp

    penalties = params.frequency_penalty != 0 or params.presence_penalty != 0
    if params.temperature <= 0 and not penalties:
        return None
    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    add = llama_cpp.llama_sampler_chain_add
    if penalties:
        add(
            chain,
            llama_cpp.llama_sampler_init_penalties(
                n_vocab,
                PENALTY_LAST_N,
                1.0,
                params.frequency_penalty,
                params.presence_penalty,
            ),
        )
    if params.temperature <= 0:
        add(chain, llama_cpp.llama_sampler_init_greedy())
    else:
        seed = params.seed if params.seed is not None else random.getrandbits(31)
        add(chain, llama_cpp.llama_sampler_init_top_p(params.top_p, 1))
        add(chain, llama_cpp.llama_sampler_init_temp(params.temperature))
        add(chain, llama_cpp.llama_sampler_init_dist(seed & 0xFFFFFFFF))
    return chain


def sample(chain: Any, ctx: Any, index: int, n_vocab: int) -> int:
    """The next token from the logits at batch position ``index``: with ``chain``, or
    greedy (the first highest logit, as llama.cpp's greedy sampler) when it is None."""
    import llama_cpp
    import numpy as np

    if chain is None:
        row = llama_cpp.llama_get_logits_ith(ctx, index)
        return int(np.ctypeslib.as_array(row, shape=(n_vocab,)).argmax())
    return int(llama_cpp.llama_sampler_sample(chain, ctx, index))


def free(chain: Any) -> None:
    import llama_cpp

    if chain is not None:
        llama_cpp.llama_sampler_free(chain)
