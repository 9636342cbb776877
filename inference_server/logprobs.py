"""Log-probabilities in OpenAI's two shapes: chat's ``{"content": [{token, logprob,
bytes, top_logprobs}]}`` and the legacy completions' parallel lists (``tokens``,
``token_logprobs``, ``top_logprobs``, ``text_offset``), from the engine's
``TokenLogprob`` entries."""

from __future__ import annotations

from typing import Any

from .backends.base import TokenLogprob


def chat(entries: list[TokenLogprob], top: int) -> dict[str, Any]:
    """Chat's ``choice.logprobs`` for ``entries``, with ``top`` alternatives each."""

    def one(text: str, data: bytes, logprob: float | None) -> dict[str, Any]:
        return {"token": text, "logprob": logprob, "bytes": list(data)}

    content = [
        {**one(e.text, e.data, e.logprob), "top_logprobs": [one(*t) for t in e.top[:top]]}
        for e in entries
    ]
    return {"content": content, "refusal": None}


def completion(entries: list[TokenLogprob], top: int, offset: int = 0) -> dict[str, Any]:
    """The completions' ``choice.logprobs`` for ``entries`` (the echoed prompt's first,
    if any), their text offsets counted from ``offset``; a prompt's first token has no
    log-probability and no top ones (null)."""
    tokens, logprobs, tops, offsets = [], [], [], []
    for e in entries:
        tokens.append(e.text)
        logprobs.append(e.logprob)
        tops.append(None if e.logprob is None else {t: lp for t, _, lp in e.top[:top]})
        offsets.append(offset)
        offset += len(e.text)
    return {"tokens": tokens, "token_logprobs": logprobs, "top_logprobs": tops,
            "text_offset": offsets}  # fmt: skip
