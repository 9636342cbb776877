"""The port every text backend implements, and the values that cross it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

FinishReason = Literal["stop", "length"]


class BackendError(Exception):
    """The backend failed for a reason that is not the client's fault."""


class BadPrompt(ValueError):
    """The request's prompt cannot be run as given (a client mistake, a 400)."""

    code = "invalid_prompt"

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


class PromptTooLong(BadPrompt):
    """The prompt (plus the requested completion) does not fit the model's context."""

    code = "context_length_exceeded"


def token_budget(n_prompt: int, max_tokens: int | None, context_length: int, param: str) -> int:
    """How many tokens a request may generate: ``max_tokens``, or else all the room its
    prompt leaves. PromptTooLong (naming ``param``, the prompt's field, or max_tokens)
    when the prompt, or the prompt plus ``max_tokens``, does not fit the context."""
    room = context_length - n_prompt
    if room <= 0:
        raise PromptTooLong(
            f"the prompt is {n_prompt} tokens; this model's context is {context_length} tokens",
            param,
        )
    budget = max_tokens if max_tokens is not None else room
    if budget > room:
        raise PromptTooLong(
            f"max_tokens={budget} plus the prompt's {n_prompt} tokens exceeds this "
            f"model's context of {context_length} tokens",
            "max_tokens",
        )
    return budget


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class Structure:
    """Output held to JSON while it is sampled: ``schema`` is the client's JSON schema
    (None: any JSON object), passed as it is to engines that constrain it themselves;
    ``grammar`` is the same constraint as llama.cpp grammar text (structured.py)."""

    grammar: str
    schema: dict[str, Any] | None = None
    name: str = "response"
    strict: bool = False
    loose: bool = False  # the grammar admits text besides the schema (tool_choice auto)
    # Tools (OpenAI's {"type": "function", ...}) for a chat template that tells them its
    # own way (tools.py, "hermes"): passed to it as its ``tools``; () when told otherwise.
    told: tuple[dict[str, Any], ...] = ()

    def response_format(self) -> dict[str, Any]:
        """The constraint in OpenAI's ``response_format`` shape, for another server."""
        if self.schema is None:
            return {"type": "json_object"}
        spec = {"name": self.name, "schema": self.schema, "strict": self.strict}
        return {"type": "json_schema", "json_schema": spec}


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    ignore_eos: bool = False
    structure: Structure | None = None
    logprobs: int | None = None  # each token's log-probability and this many top ones
    prompt_logprobs: bool = False  # the prompt's tokens' too (a completion's echo)


@dataclass(frozen=True)
class Sampled:
    """A token the engine picked (or read, for a prompt) and its log-probability under
    the model (raw logits, before temperature and penalties), with the likeliest
    alternatives, as token ids; ``logprob`` is None for a prompt's first token."""

    token: int
    logprob: float | None
    top: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True)
class TokenLogprob:
    """A ``Sampled`` as text: the token's text and bytes, and the same for the top ones."""

    text: str
    data: bytes
    logprob: float | None
    top: tuple[tuple[str, bytes, float], ...] = ()


@dataclass
class Delta:
    """Text produced since the last delta; the final one carries finish and usage.
    With ``params.logprobs``, ``logprobs`` has an entry per token the delta covers; with
    ``params.prompt_logprobs``, the first delta has the prompt's (``prompt``)."""

    text: str
    completion_tokens: int
    finish_reason: FinishReason | None = None
    prompt_tokens: int = 0
    logprobs: list[TokenLogprob] | None = None
    prompt: list[TokenLogprob] | None = None

    def then(self, later: Delta) -> Delta:
        """This delta and the ``later`` one as one (text, scores and the prompt's
        joined; counts and finish from the later)."""
        scores = None if self.logprobs is None else self.logprobs + (later.logprobs or [])
        prompt = self.prompt if self.prompt is not None else later.prompt
        return Delta(
            self.text + later.text, later.completion_tokens, later.finish_reason,
            later.prompt_tokens, scores, prompt,
        )  # fmt: skip


@dataclass
class CancelToken:
    """Set by the server when the client went away; the backend checks it every token."""

    _event: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self._event.set()

    def wait(self, timeout_s: float) -> bool:
        """Sleep up to ``timeout_s``, less if cancelled meanwhile; whether it was."""
        return self._event.wait(timeout_s)

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


class TextBackend(Protocol):
    """A text model. Methods are blocking and called from worker threads: ``generate``
    runs on ``max_parallel`` threads at once (1 for a backend that runs one generation
    at a time; more for one that batches, or forwards to a server that does)."""

    name: str
    context_length: int
    max_parallel: int
    # The model's own tool-call format, from its chat template (tools.py: "hermes"), or
    # None: tools are told in the system message as JSON. Known once loaded.
    tool_style: str | None

    def load(self) -> None: ...

    def generate(
        self, prompt: str | list[ChatMessage], params: SamplingParams, cancel: CancelToken
    ) -> Iterator[Delta]:
        """Yield deltas; a list of messages is rendered with the model's chat template.

        Raises PromptTooLong before the first delta when the request cannot fit.
        """
        ...

    def close(self) -> None: ...
