"""Per-request sampling for the batched llama.cpp engine: a llama.cpp sampler chain
built from a request's parameters, as the single-stream engine samples, or a plain
argmax over the logits for greedy requests without penalties.

A request held to JSON (``params.structure``) also has a llama.cpp grammar sampler,
used as llama.cpp's own ``common_sampler`` uses it: the chain picks a token from all
candidates, the grammar checks only that one token, and only when it is refused does
the grammar mask all 49k candidates and the chain pick again. Masking every candidate
costs about 15 ms a token on this machine's kind, on the scheduler thread every other
sequence waits for; checking one costs nothing, and the model's own pick is usually
valid.
"""

from __future__ import annotations

import ctypes
import math
import random
from typing import Any

from .base import BadPrompt, SamplingParams

PENALTY_LAST_N = 64  # as llama-cpp-python's high-level sampler (last_n_tokens_size)


class Constrained:
    """A sampler chain plus a grammar, checked token by token (see the module's text)."""

    def __init__(self, chain: Any, grammar: Any) -> None:
        self.chain = chain
        self.grammar = grammar
        self.resampled = 0  # tokens the grammar refused, for tests

    def sample(self, ctx: Any, index: int, n_vocab: int) -> int:
        import llama_cpp

        logits = _logits(ctx, index, n_vocab)
        token = self._pick(logits, self.chain)
        one = (llama_cpp.llama_token_data * 1)(llama_cpp.llama_token_data(token, 1.0, 0.0))
        check = llama_cpp.llama_token_data_array(one, 1, -1, False)
        llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(check))
        if math.isinf(one[0].logit):
            self.resampled += 1
            token = self._pick(logits, self.grammar, self.chain)
        llama_cpp.llama_sampler_accept(self.grammar, token)
        llama_cpp.llama_sampler_accept(self.chain, token)
        return token

    @staticmethod
    def _pick(logits: Any, *samplers: Any) -> int:
        """The token ``samplers``, applied in turn to every candidate, select."""
        import llama_cpp
        import numpy as np

        data = np.empty(len(logits), dtype=[("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])
        data["id"] = np.arange(len(logits), dtype=np.int32)
        data["logit"] = logits
        data["p"] = 0.0
        pointer = data.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token_data))
        cur = llama_cpp.llama_token_data_array(pointer, len(logits), -1, False)
        for sampler in samplers:
            llama_cpp.llama_sampler_apply(sampler, ctypes.byref(cur))
        return int(cur.data[cur.selected].id)

    def free(self) -> None:
        import llama_cpp

        llama_cpp.llama_sampler_free(self.chain)
        llama_cpp.llama_sampler_free(self.grammar)


def sampler_chain(params: SamplingParams, n_vocab: int, vocab: Any = None) -> Any:
    """The request's own chain (penalties, top-p, temperature, seed), a ``Constrained``
    one when it has a grammar (``params.structure``, which needs the model's ``vocab``),
    or None for plain greedy (no grammar, no penalties), which ``sample`` does as an
    argmax: the same token, without copying 49k candidates per sequence per step. Free
    it with ``free``."""
    import llama_cpp

    penalties = params.frequency_penalty != 0 or params.presence_penalty != 0
    structure = params.structure
    if params.temperature <= 0 and not penalties and structure is None:
        return None
    grammar = None
    if structure is not None:
        grammar = llama_cpp.llama_sampler_init_grammar(vocab, structure.grammar.encode(), b"root")
        if not grammar:
            raise BadPrompt("the grammar made from this schema does not parse", "response_format")
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
    return chain if grammar is None else Constrained(chain, grammar)


def _logits(ctx: Any, index: int, n_vocab: int) -> Any:
    import llama_cpp
    import numpy as np

    row = llama_cpp.llama_get_logits_ith(ctx, index)
    return np.ctypeslib.as_array(row, shape=(n_vocab,))


def sample(chain: Any, ctx: Any, index: int, n_vocab: int) -> int:
    """The next token from the logits at batch position ``index``: with ``chain``, or
    greedy (the first highest logit, as llama.cpp's greedy sampler) when it is None."""
    import llama_cpp

    if chain is None:
        return int(_logits(ctx, index, n_vocab).argmax())
    if isinstance(chain, Constrained):
        return chain.sample(ctx, index, n_vocab)
    return int(llama_cpp.llama_sampler_sample(chain, ctx, index))


def free(chain: Any) -> None:
    import llama_cpp

    if isinstance(chain, Constrained):
        chain.free()
    elif chain is not None:
        llama_cpp.llama_sampler_free(chain)
