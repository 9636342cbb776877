"""A remote text engine (``engine: remote``): any OpenAI-compatible server by URL, such
as a vLLM cluster. Managed vLLM (``backends/vllm.py``) builds on it.

Scale-out (tensor and pipeline parallelism, replicas) is vLLM's job; literai only
forwards. Requests stream through the official ``openai`` client from the engine's
worker threads (``max_parallel`` at once: vLLM batches them); the upstream's errors
keep OpenAI's shape: its 400s are the client's mistakes here too, with its message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from ..settings import ModelSettings
from .base import (
    BackendError,
    BadPrompt,
    CancelToken,
    ChatMessage,
    Delta,
    FinishReason,
    PromptTooLong,
    SamplingParams,
    TokenLogprob,
)

log = logging.getLogger(__name__)


class RemoteOpenAI:
    """A text backend that is another OpenAI-compatible server."""

    tool_style: str | None = None  # tools told in the system message, calls held to JSON

    def __init__(
        self,
        name: str,
        base_url: str,
        served_model: str,
        api_key: str | None = None,
        *,
        max_parallel: int = 8,
        context_length: int = 2048,
        timeout_s: float = 600.0,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.served_model = served_model
        self.max_parallel = max_parallel
        self.context_length = context_length
        self._key = api_key
        self._timeout_s = timeout_s
        self._client: Any = None

    def load(self) -> None:
        import openai

        self._client = openai.OpenAI(
            base_url=self.base_url,
            api_key=self._key or "none",
            max_retries=0,
            timeout=self._timeout_s,
        )
        try:
            models = self._client.models.list().data
        except openai.APIStatusError as exc:
            raise BackendError(
                f"{self.base_url} answered {exc.status_code} to /models: {_message(exc)}"
            ) from None
        except openai.APIError as exc:
            raise BackendError(f"cannot reach {self.base_url}: {exc}") from None
        names = [m.id for m in models]
        if self.served_model not in names:
            raise BackendError(
                f"{self.base_url} does not serve {self.served_model!r} (it serves "
                f"{', '.join(names) or 'nothing'})"
            )
        found = next(m for m in models if m.id == self.served_model)
        length = getattr(found, "max_model_len", None) or (found.model_extra or {}).get(
            "max_model_len"
        )
        if isinstance(length, int) and length > 0:
            self.context_length = length
        log.info("%s: %s at %s", self.name, self.served_model, self.base_url)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def generate(
        self, prompt: str | list[ChatMessage], params: SamplingParams, cancel: CancelToken
    ) -> Iterator[Delta]:
        import openai

        client = self._client
        if client is None:
            raise BackendError("model not loaded")
        param = "prompt" if isinstance(prompt, str) else "messages"
        args: dict[str, Any] = {
            "model": self.served_model,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "frequency_penalty": params.frequency_penalty,
            "presence_penalty": params.presence_penalty,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if params.max_tokens is not None:
            args["max_tokens"] = params.max_tokens
        if params.stop:
            args["stop"] = list(params.stop)
        if params.seed is not None:
            args["seed"] = params.seed
        if params.ignore_eos:
            args["extra_body"] = {"ignore_eos": True}
        held = params.structure
        if held is not None and not held.loose and not isinstance(prompt, str):
            # (A loose one, tool_choice auto, is not a JSON schema: the other model
            # answers freely, and a call it makes is parsed as made.)
            args["response_format"] = held.response_format()
        if params.prompt_logprobs:
            raise BadPrompt("echo with logprobs is not passed on to another server", "echo")
        if params.logprobs is not None and isinstance(prompt, str):
            args["logprobs"] = params.logprobs
        elif params.logprobs is not None:
            args.update(logprobs=True, top_logprobs=params.logprobs)
        try:
            if isinstance(prompt, str):
                stream = client.completions.create(prompt=prompt, **args)
            else:
                messages = [{"role": m.role, "content": defuse(m.content)} for m in prompt]
                stream = client.chat.completions.create(messages=messages, **args)
        except openai.BadRequestError as exc:
            message = _message(exc)
            low = message.lower()
            where = exc.param if isinstance(exc.param, str) and exc.param else param
            # vLLM says "maximum context length" of prompts, "max_model_len" of max_tokens.
            if exc.code == "context_length_exceeded" or any(
                words in low for words in ("maximum context length", "max_model_len")
            ):
                raise PromptTooLong(message, where) from None
            raise BadPrompt(message, where) from None
        except openai.APIStatusError as exc:
            raise BackendError(
                f"the {self.name} server answered {exc.status_code}: {_message(exc)}"
            ) from None
        except openai.APIError as exc:
            raise BackendError(f"cannot reach the {self.name} server: {exc}") from None
        yield from self._read(stream, cancel, args)

    def _read(self, stream: Any, cancel: CancelToken, args: dict[str, Any]) -> Iterator[Delta]:
        import openai

        produced = prompt_tokens = 0
        finish: FinishReason | None = None
        try:
            with stream:
                for chunk in stream:
                    if cancel.cancelled:
                        return  # leaving the with block closes the connection
                    if chunk.usage is not None:
                        produced = chunk.usage.completion_tokens
                        prompt_tokens = chunk.usage.prompt_tokens
                    for choice in chunk.choices:
                        text = getattr(choice, "text", None)
                        if text is None:
                            text = choice.delta.content or ""
                        if choice.finish_reason is not None:
                            finish = "length" if choice.finish_reason == "length" else "stop"
                        scores = _scores(choice.logprobs) if "logprobs" in args else None
                        if text or scores:
                            produced += 1  # one token per chunk, until usage says
                            yield Delta(text, produced, logprobs=scores)
        except openai.APIError as exc:
            raise BackendError(f"the {self.name} server failed mid-answer: {exc}") from None
        if not cancel.cancelled:
            yield Delta("", produced, finish_reason=finish or "stop", prompt_tokens=prompt_tokens)


# Chat-template control tokens written as text (ChatML's <|im_start|>, Llama's <s> and
# [INST], Gemma's turn markers): the embedded engine knows its model's exact tokens
# (llama_prompt.py); for a server elsewhere these look-alikes are defused the same way,
# so message text is data on every engine and cannot open or close a turn.
_CONTROL_TOKEN = re.compile(
    r"<\|[^<>|\s]{1,40}\|>|</?s>|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>",
    re.IGNORECASE,
)


def _scores(found: Any) -> list[TokenLogprob]:
    """The other server's log-probabilities of a chunk, chat's or the completions'."""
    if found is None:
        return []
    if getattr(found, "content", None) is not None:  # chat

        def one(e: Any) -> tuple[str, bytes, float]:
            return e.token, bytes(e.bytes) if e.bytes is not None else e.token.encode(), e.logprob

        return [
            TokenLogprob(*one(e), tuple(one(t) for t in e.top_logprobs or ()))
            for e in found.content
        ]
    tops = found.top_logprobs or [None] * len(found.tokens or [])
    return [
        TokenLogprob(
            token,
            token.encode(),
            logprob,
            tuple((t, t.encode(), lp) for t, lp in (top or {}).items()),
        )
        for token, logprob, top in zip(
            found.tokens or [], found.token_logprobs or [], tops, strict=False
        )
    ]


def defuse(text: str) -> str:
    return _CONTROL_TOKEN.sub(lambda m: m.group(0)[0] + "\u200b" + m.group(0)[1:], text)


def remote_openai(alias: str, model: ModelSettings, api_key: str | None = None) -> RemoteOpenAI:
    """The backend for ``engine: remote``; ``api_key`` is its key, read by the process
    layer from the variable ``model.api_key_env`` names."""
    assert model.url is not None  # the settings validator makes sure
    return RemoteOpenAI(
        alias,
        model.url,
        model.served_model or alias,
        api_key,
        max_parallel=model.slots,
        context_length=model.n_ctx,
    )


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])[:500]
        if isinstance(body.get("message"), str):
            return str(body["message"])[:500]
    return str(getattr(exc, "message", exc))[:500]
