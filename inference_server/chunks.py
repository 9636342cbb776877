"""The shapes of answers on the wire: what every stream chunk starts with, one chunk of
a choice, and the log-probabilities of the tokens a delta covers (logprobs.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import logprobs
from .backends.base import Delta
from .protocol import ChatCompletionRequest, CompletionRequest

if TYPE_CHECKING:
    from .serving import Started

Request = ChatCompletionRequest | CompletionRequest


def base(req: Request, run: Started) -> dict[str, Any]:
    """What every stream chunk of ``run`` starts with."""
    chat = isinstance(req, ChatCompletionRequest)
    base: dict[str, Any] = {
        "id": run.id,
        "object": "chat.completion.chunk" if chat else "text_completion",
        "created": run.created,
        "model": run.model,
        "system_fingerprint": run.fingerprint,
    }
    if chat:
        base["service_tier"] = "default"
    return base


def chunk(
    base: dict[str, Any],
    req: Request,
    text: str | None,
    finish: str | None,
    role: bool,
    scored: Delta | None,
    offset: int,
    index: int = 0,
) -> dict[str, Any]:
    """One stream chunk: ``text`` (None: no content), the finish, the role's opening
    (chat's first chunk), and the log-probabilities of the tokens ``scored`` covers."""
    choice: dict[str, Any] = {"index": index, "finish_reason": finish}
    choice["logprobs"] = None if scored is None else logprobs_of(req, scored, offset)
    if isinstance(req, ChatCompletionRequest):
        delta: dict[str, Any] = {"role": "assistant", "refusal": None} if role else {}
        if text is not None:
            delta["content"] = text
        choice["delta"] = delta
    else:
        choice["text"] = text or ""
    return {**base, "choices": [choice]}


def prompt_only(first: Delta) -> Delta:
    """A delta scoring only the prompt (an echo's first chunk), from the first delta."""
    return Delta("", 0, logprobs=first.prompt)


def logprobs_of(req: Request, delta: Delta, offset: int = 0) -> dict[str, Any] | None:
    """``choice.logprobs`` for the tokens ``delta`` covers (None: none were asked)."""
    if delta.logprobs is None:
        return None
    if isinstance(req, ChatCompletionRequest):
        return logprobs.chat(delta.logprobs, req.top_logprobs or 0)
    return logprobs.completion([*(delta.prompt or []), *delta.logprobs], req.logprobs or 0, offset)
