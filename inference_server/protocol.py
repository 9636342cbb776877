"""The OpenAI wire protocol: request models (typed, permissive about extra fields),
response builders, and the one function that builds every error body (``error_body``:
JSON responses and the error event of a stream that failed after its headers)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .backends.base import ChatMessage, SamplingParams

INT64 = 2**63 - 1
MAX_N = 8  # choices in one request


class ApiError(Exception):
    """A request that gets an OpenAI-shaped error instead of an answer."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def response(self) -> web.Response:
        return error_response(self.status, self.message, self.type, self.param, self.code)


def error_body(
    message: str,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, dict[str, str | None]]:
    """OpenAI's error object: every error on the wire, JSON or mid-stream, is one of these."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def error_response(
    status: int,
    message: str,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> web.Response:
    return web.json_response(error_body(message, type, param, code), status=status)


class _Wire(BaseModel):
    # Strict: "0.5" is not a number and 1 is not a boolean, as on OpenAI's own API.
    model_config = ConfigDict(extra="allow", strict=True)


class TextPart(_Wire):
    type: Literal["text"]
    text: Annotated[str, Field(max_length=1_000_000)]


class FunctionCall(_Wire):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    arguments: Annotated[str, Field(max_length=1_000_000)]


class ToolCall(_Wire):
    id: Annotated[str, Field(min_length=1, max_length=128)]
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(_Wire):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = None
    tool_calls: Annotated[list[ToolCall], Field(max_length=64)] | None = None
    tool_call_id: Annotated[str, Field(max_length=128)] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(_Wire):
    include_usage: bool = False


Penalty = Annotated[float, Field(ge=-2.0, le=2.0)]


class _Sampling(_Wire):
    model: Annotated[str, Field(min_length=1, max_length=256)]
    max_tokens: Annotated[int | None, Field(ge=1, le=1_000_000)] = None
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 1.0
    top_p: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    stop: (
        str | Annotated[list[Annotated[str, Field(max_length=256)]], Field(max_length=4)] | None
    ) = None
    seed: Annotated[int | None, Field(ge=-INT64 - 1, le=INT64)] = None
    frequency_penalty: Penalty = 0.0
    presence_penalty: Penalty = 0.0
    n: Annotated[int, Field(ge=1, le=MAX_N)] = 1
    user: Annotated[str | None, Field(max_length=256)] = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    ignore_eos: bool = False  # vLLM's extension; benchmarks use it for fixed lengths

    @field_validator("stop")
    @classmethod
    def _stop_not_too_long(cls, v: str | list[str] | None) -> str | list[str] | None:
        if isinstance(v, str) and len(v) > 256:
            raise ValueError("a stop sequence is at most 256 characters")
        return v

    def sampling(self, max_tokens: int | None) -> SamplingParams:
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())
        return SamplingParams(
            max_tokens=max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            stop=stop,
            seed=None if self.seed is None else self.seed & 0x7FFFFFFF,
            frequency_penalty=self.frequency_penalty,
            presence_penalty=self.presence_penalty,
            ignore_eos=self.ignore_eos,
        )

    @property
    def include_usage(self) -> bool:
        return bool(self.stream and self.stream_options and self.stream_options.include_usage)


class JsonSchemaSpec(_Wire):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    description: Annotated[str | None, Field(max_length=4096)] = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Wire):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaSpec | None = None


class FunctionDef(_Wire):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    description: Annotated[str, Field(max_length=4096)] | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Wire):
    type: Literal["function"]
    function: FunctionDef


class NamedFunction(_Wire):
    name: Annotated[str, Field(min_length=1, max_length=64)]


class NamedToolChoice(_Wire):
    type: Literal["function"]
    function: NamedFunction


class ChatCompletionRequest(_Sampling):
    messages: Annotated[list[Message], Field(min_length=1, max_length=1000)]
    max_completion_tokens: Annotated[int | None, Field(ge=1, le=1_000_000)] = None
    response_format: ResponseFormat | None = None
    logprobs: bool = False
    top_logprobs: Annotated[int | None, Field(ge=0, le=20)] = None
    tools: Annotated[list[Tool], Field(max_length=128)] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None

    def prompt(self) -> list[ChatMessage]:
        return [ChatMessage(m.role, m.text()) for m in self.messages]

    def params(self) -> SamplingParams:
        """The sampling parameters, with the ``response_format`` constraint (an
        ApiError(400) when it cannot be enforced) and the log-probabilities asked."""
        from .structured import structure

        if self.top_logprobs is not None and not self.logprobs:
            raise ApiError(400, "top_logprobs needs logprobs: true", param="top_logprobs")
        params = self.sampling(self.max_completion_tokens or self.max_tokens)
        top = (self.top_logprobs or 0) if self.logprobs else None
        return replace(params, structure=structure(self.response_format), logprobs=top)


class CompletionRequest(_Sampling):
    prompt: (
        Annotated[str, Field(max_length=1_000_000)]
        | Annotated[
            list[Annotated[str, Field(max_length=1_000_000)]], Field(min_length=1, max_length=1)
        ]
    )
    max_tokens: Annotated[int | None, Field(ge=1, le=1_000_000)] = 16  # OpenAI's default
    logprobs: Annotated[int | None, Field(ge=0, le=20)] = None  # how many top ones
    echo: bool = False

    def text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]

    def params(self) -> SamplingParams:
        params = self.sampling(self.max_tokens)
        scored = self.logprobs is not None
        return replace(params, logprobs=self.logprobs, prompt_logprobs=self.echo and scored)


_NULL_MEANS_DEFAULT = (
    "temperature",
    "top_p",
    "n",
    "frequency_penalty",
    "presence_penalty",
    "stream",
    "speed",
    "response_format",
    "ignore_eos",
    "logprobs",
    "echo",
    "encoding_format",
)
_TYPE_TAGS = {"str", "int", "float", "bool", "list", "dict", "none", "literal"}


def _param_name(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.split("[")[0].lower() in _TYPE_TAGS or not part.replace("_", "a").isalnum():
            continue  # a union member's tag, not a field
        else:
            out += f".{part}" if out else part
    return out or "body"


def parse_body(model: type[_Wire], raw: bytes) -> Any:
    """Bytes to a request model, or an ApiError(400) that names the field."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "the request body is not valid JSON", code="invalid_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object", code="invalid_json")
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(
            400,
            "the request contains invalid Unicode (a lone surrogate escape)",
            code="invalid_json",
        ) from None
    except RecursionError:
        raise ApiError(400, "the request body is nested too deeply", code="invalid_json") from None
    # OpenAI's API takes null as "use the default" for these; so do we.
    for key in _NULL_MEANS_DEFAULT:
        if key in data and data[key] is None:
            del data[key]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        param = _param_name(first["loc"])
        msg = first["msg"]
        if param == "n":
            msg = f"n is from 1 to {MAX_N}"
        raise ApiError(400, f"invalid value for '{param}': {msg}", param=param) from None
    except RecursionError:
        raise ApiError(400, "the request body is nested too deeply", code="invalid_json") from None


# -- responses -------------------------------------------------------------------------


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"
