"""Per-request sampling for the batched llama.cpp engine: a llama.cpp sampler chain
built from a request's parameters, as the single-stream engine samples, or a plain
argmax over the logits for greedy requests without penalties.

A request held to JSON (``params.structure``) also has a llama.cpp grammar sampler,
used as llama.cpp's own ``common_sampler`` uses it: the chain picks a token from all
candidates and the grammar checks only that one. When it refuses it (18% of the tokens
of a long list at temperature 1), the chain draws again from the 256 likeliest tokens the
grammar allows, or from all it allows when it allows none of those: masking all 49k
candidates costs about 12 ms a token on this machine's kind, on the scheduler thread
every other sequence waits for, and 256 about 1.5 ms (bench/structured.py: 8 held
streams at 1.02x the free ones' tokens/s, 0.67x with the full mask).
"""

from __future__ import annotations

import ctypes
import math
import random
from typing import Any

from .base import BadPrompt, Sampled, SamplingParams

PENALTY_LAST_N = 64  # as llama-cpp-python's high-level sampler (last_n_tokens_size)


class Constrained:
    """A sampler chain plus a grammar, checked token by token (see the module's text)."""

    NARROW = 256  # a refused pick is drawn again from the likeliest this many first

    def __init__(self, chain: Any, grammar: Any, penalties: bool) -> None:
        self.chain = chain
        self.grammar = grammar
        # Without penalties the chain keeps no state a refused pick could spoil, so the
        # pick is llama.cpp's own (in C); with them it is made here and accepted once.
        self.plain = not penalties
        self.resampled = 0  # picks the grammar refused, for tests and measures
        self.widened = 0  # of those, redrawn from all tokens

    def sample(self, ctx: Any, index: int, n_vocab: int) -> int:
        import llama_cpp

        if self.plain:
            token = int(llama_cpp.llama_sampler_sample(self.chain, ctx, index))
        else:
            _kept, cur = _candidates(_logits(ctx, index, n_vocab))  # _kept owns cur's memory
            token = _pick(cur, self.chain)
        one = (llama_cpp.llama_token_data * 1)(llama_cpp.llama_token_data(token, 1.0, 0.0))
        check = llama_cpp.llama_token_data_array(one, 1, -1, False)
        llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(check))
        if math.isinf(one[0].logit):
            self.resampled += 1
            token = self._again(_logits(ctx, index, n_vocab))
        llama_cpp.llama_sampler_accept(self.grammar, token)
        if not self.plain or self.resampled:
            llama_cpp.llama_sampler_accept(self.chain, token)  # a no-op but for penalties
        return token

    def _again(self, logits: Any) -> int:
        """A token the grammar allows: drawn by the chain from the ``NARROW`` likeliest
        tokens the grammar allows, or from all it allows when it allows none of those
        (masking 256 candidates costs a fraction of masking 49k)."""
        import llama_cpp
        import numpy as np

        top = np.argpartition(logits, -self.NARROW)[-self.NARROW :]
        for ids in (top, None):
            data, cur = _candidates(logits, ids)
            llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(cur))
            if ids is None or np.isfinite(data["logit"]).any():
                self.widened += ids is None
                return _pick(cur, self.chain)
        raise AssertionError("unreachable")

    def free(self) -> None:
        import llama_cpp

        llama_cpp.llama_sampler_free(self.chain)
        llama_cpp.llama_sampler_free(self.grammar)


def _candidates(logits: Any, ids: Any = None) -> tuple[Any, Any]:
    """The candidates ``ids`` (all tokens by default) with their logits, as a numpy
    array and the llama.cpp array over the same memory (samplers write into it)."""
    import llama_cpp
    import numpy as np

    n = len(logits) if ids is None else len(ids)
    data = np.empty(n, dtype=[("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])
    data["id"] = np.arange(n, dtype=np.int32) if ids is None else ids
    data["logit"] = logits if ids is None else logits[ids]
    data["p"] = 0.0
    pointer = data.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token_data))
    return data, llama_cpp.llama_token_data_array(pointer, n, -1, False)


def _pick(cur: Any, chain: Any) -> int:
    """The token ``chain`` selects from the candidates ``cur``."""
    import llama_cpp

    llama_cpp.llama_sampler_apply(chain, ctypes.byref(cur))
    return int(cur.data[cur.selected].id)


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
    return chain if grammar is None else Constrained(chain, grammar, penalties)


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


def score_at(ctx: Any, index: int, n_vocab: int, token: int, top: int) -> Sampled:
    """``token`` with its log-probability under the logits the last decode computed at
    batch position ``index`` (a log-softmax of the raw logits) and the ``top`` likeliest
    tokens', likeliest first."""
    return score_rows(ctx, [index], n_vocab, [token], top)[0]


def score_rows(
    ctx: Any, indices: list[int], n_vocab: int, tokens: list[int], top: int
) -> list[Sampled]:
    """``score_at`` for many batch positions in one array operation (a prompt's
    positions, scored for an echo), so the scheduler thread is not held row by row."""
    import numpy as np

    rows = np.stack([_logits(ctx, i, n_vocab) for i in indices]).astype(np.float32)
    peak = rows.max(axis=1, keepdims=True)
    total = peak + np.log(np.exp(rows - peak).sum(axis=1, keepdims=True))
    rows -= total  # log-probabilities, in place
    picked = rows[np.arange(len(indices)), tokens]
    best: list[tuple[tuple[int, float], ...]] = [()] * len(indices)
    if top > 0:
        ids = np.argpartition(rows, -top, axis=1)[:, -top:]
        for r, row_ids in enumerate(ids):
            ordered = row_ids[np.argsort(-rows[r, row_ids], kind="stable")]
            best[r] = tuple((int(i), float(rows[r, i])) for i in ordered)
    return [Sampled(t, float(p), b) for t, p, b in zip(tokens, picked, best, strict=True)]
