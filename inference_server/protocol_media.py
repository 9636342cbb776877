"""The wire models of the media and vector routes (speech, images, embeddings), apart
from the text ones in protocol.py; parsed the same way (``protocol.parse_body``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .protocol import _Wire


class SpeechRequest(_Wire):
    """OpenAI's ``/v1/audio/speech`` body; ``stream`` is our extension (as is
    ``stream_format: "audio"``, which OpenAI also uses)."""

    model: Annotated[str, Field(min_length=1, max_length=256)]
    input: Annotated[str, Field(min_length=1, max_length=1_000_000)]
    voice: Annotated[str, Field(min_length=1, max_length=64)]
    response_format: Literal["mp3", "opus", "ogg", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: Annotated[float, Field(ge=0.25, le=4.0)] = 1.0
    stream_format: Literal["audio", "sse"] | None = None
    stream: bool = False
    instructions: Annotated[str | None, Field(max_length=4096)] = None  # accepted, unused


class EmbeddingRequest(_Wire):
    """OpenAI's ``/v1/embeddings`` body (``input`` as text; token arrays are refused)."""

    input: (
        Annotated[str, Field(max_length=1_000_000)]
        | Annotated[
            list[Annotated[str, Field(max_length=1_000_000)]], Field(min_length=1, max_length=2048)
        ]
    )
    model: Annotated[str, Field(min_length=1, max_length=256)]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[int | None, Field(ge=1, le=100_000)] = None
    user: Annotated[str | None, Field(max_length=256)] = None


class ImageRequest(_Wire):
    """OpenAI's ``/v1/images/generations`` body; ``seed``, ``steps`` and
    ``guidance_scale`` are our extensions (``quality``, ``style`` are accepted, unused)."""

    prompt: Annotated[str, Field(min_length=1, max_length=1_000_000)]
    model: Annotated[str | None, Field(max_length=256)] = None
    n: Annotated[int, Field(ge=1, le=16)] = 1
    size: Annotated[str | None, Field(max_length=20)] = None
    response_format: Literal["url", "b64_json"] = "url"
    seed: Annotated[int | None, Field(ge=0, le=2**32 - 1)] = None
    steps: Annotated[int | None, Field(ge=1, le=150)] = None
    guidance_scale: Annotated[float | None, Field(ge=0.0, le=30.0)] = None
    user: Annotated[str | None, Field(max_length=256)] = None
