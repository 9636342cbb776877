"""The inference port the core talks to, and its implementation on the official
``openai`` client, so any OpenAI-compatible server (ours, vLLM, a cloud one) can serve."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

import openai
from openai.types.chat import ChatCompletionMessageParam

log = logging.getLogger(__name__)


class InferenceError(Exception):
    """A model call failed. ``str()`` is safe to show in chat; ``not_configured`` says the
    server lacks the capability (as opposed to failing at it)."""

    def __init__(
        self, message: str, *, not_configured: bool = False, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.not_configured = not_configured
        self.param = param  # the request field a 400 named, if any


@dataclass(frozen=True)
class Generation:
    max_tokens: int
    temperature: float = 0.8
    top_p: float = 0.95
    frequency_penalty: float = 0.0
    stop: tuple[str, ...] = ()
    seed: int | None = None  # reproducible sampling, where the server supports it
    # A JSON schema the answer is held to while it is sampled (OpenAI's structured
    # outputs), where the server supports it; chat only.
    schema: Mapping[str, Any] | None = None
    # The model alias to ask (a channel's own, e.g. one `literai train` made); None:
    # the client's default.
    model: str | None = None


class Inference(Protocol):
    def stream_chat(
        self, messages: list[dict[str, str]], gen: Generation, *, user: str | None = None
    ) -> AsyncIterator[str]: ...

    def stream_completion(
        self, prompt: str, gen: Generation, *, user: str | None = None
    ) -> AsyncIterator[str]: ...

    async def speech(self, text: str, *, voice: str, model: str) -> bytes:
        """WAV audio of ``text``."""
        ...

    async def models(self) -> list[str]:
        """The model aliases the server serves."""
        ...

    async def image(self, prompt: str, *, size: str) -> bytes:
        """One PNG image of ``prompt``."""
        ...

    async def transcribe(self, audio: bytes, *, model: str, prompt: str | None = None) -> str:
        """The words spoken in ``audio`` (a WAV file)."""
        ...


def _response_format(gen: Generation) -> Any:
    if gen.schema is None:
        return openai.omit
    spec = {"name": "answer", "schema": dict(gen.schema), "strict": True}
    return {"type": "json_schema", "json_schema": spec}


def _explain(exc: Exception) -> InferenceError:
    if not isinstance(exc, openai.OpenAIError):  # e.g. a stream that is not JSON
        return InferenceError("the model server sent something I could not read")
    if isinstance(exc, openai.APITimeoutError):
        return InferenceError("the model took too long to answer")
    if isinstance(exc, openai.APIConnectionError):
        return InferenceError("the model server is unreachable")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status == 404 and str(getattr(exc, "code", "")).endswith("_not_configured"):
            return InferenceError("that is not set up on this server", not_configured=True)
        if status == 429:
            return InferenceError("the model is busy with other questions")
        if status == 503:
            return InferenceError("the model is still waking up")
        if status in (401, 403):
            return InferenceError("the model server refused my key")
        if status == 400:
            param = getattr(exc, "param", None)
            param = param if isinstance(param, str) else None
            return InferenceError("that request was too big for the model", param=param)
        return InferenceError(f"the model server answered {status}")
    return InferenceError("the model call failed")


class OpenAIInference:
    """Streams text deltas through an ``AsyncOpenAI`` client owned by the caller."""

    def __init__(self, client: openai.AsyncOpenAI, model: str) -> None:
        self._client = client
        self._model = model

    async def stream_chat(
        self, messages: list[dict[str, str]], gen: Generation, *, user: str | None = None
    ) -> AsyncIterator[str]:
        try:
            stream = await self._client.chat.completions.create(
                model=gen.model or self._model,
                messages=cast("list[ChatCompletionMessageParam]", messages),
                stream=True,
                max_tokens=gen.max_tokens,
                temperature=gen.temperature,
                top_p=gen.top_p,
                frequency_penalty=gen.frequency_penalty,
                stop=list(gen.stop) if gen.stop else openai.omit,
                seed=gen.seed if gen.seed is not None else openai.omit,
                user=user[:256] if user else openai.omit,
                response_format=_response_format(gen),
            )
            async with stream:
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content
        except (openai.OpenAIError, ValueError) as exc:
            log.warning("chat completion failed: %s", type(exc).__name__)
            raise _explain(exc) from None

    async def stream_completion(
        self, prompt: str, gen: Generation, *, user: str | None = None
    ) -> AsyncIterator[str]:
        try:
            stream = await self._client.completions.create(
                model=gen.model or self._model,
                prompt=prompt,
                stream=True,
                max_tokens=gen.max_tokens,
                temperature=gen.temperature,
                top_p=gen.top_p,
                frequency_penalty=gen.frequency_penalty,
                stop=list(gen.stop) if gen.stop else openai.omit,
                seed=gen.seed if gen.seed is not None else openai.omit,
                user=user[:256] if user else openai.omit,
            )
            async with stream:
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].text:
                        yield chunk.choices[0].text
        except (openai.OpenAIError, ValueError) as exc:
            log.warning("completion failed: %s", type(exc).__name__)
            raise _explain(exc) from None

    async def models(self) -> list[str]:
        try:
            listed = [model async for model in self._client.models.list()]
        except (openai.OpenAIError, ValueError) as exc:
            log.warning("listing models failed: %s", type(exc).__name__)
            raise _explain(exc) from None
        # literai and vLLM give text models a context length; embedding models have none.
        text = [m.id for m in listed if (m.model_extra or {}).get("max_model_len")]
        return text or [m.id for m in listed]

    async def speech(self, text: str, *, voice: str, model: str) -> bytes:
        try:
            audio = await self._client.audio.speech.create(
                model=model, voice=voice, input=text, response_format="wav"
            )
            return audio.content
        except (openai.OpenAIError, ValueError) as exc:
            log.warning("speech failed: %s", type(exc).__name__)
            raise _explain(exc) from None

    async def image(self, prompt: str, *, size: str) -> bytes:
        try:
            result = await self._client.images.generate(
                prompt=prompt,
                n=1,
                size=size,
                response_format="b64_json",
            )
            if not result.data or not result.data[0].b64_json:
                raise InferenceError("the image server sent no image")
            return base64.b64decode(result.data[0].b64_json)
        except (openai.OpenAIError, ValueError) as exc:
            log.warning("image failed: %s", type(exc).__name__)
            raise _explain(exc) from None

    async def transcribe(self, audio: bytes, *, model: str, prompt: str | None = None) -> str:
        try:
            result = await self._client.audio.transcriptions.create(
                file=("speech.wav", audio, "audio/wav"),
                model=model,
                prompt=prompt or openai.omit,
                response_format="json",
            )
            return result.text
        except (openai.OpenAIError, ValueError) as exc:
            log.warning("transcription failed: %s", type(exc).__name__)
            raise _explain(exc) from None
