"""The long-form jobs' settings (summaries, story mode, podcast hosts and episodes),
parts of the ``bot`` section (``settings.BotSettings``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class Section(BaseModel):
    """A settings section: unknown keys are errors (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Size = Annotated[str, Field(pattern=r"^\d{2,4}x\d{2,4}$")]
Minutes = Annotated[float, Field(gt=0, le=1440)]


class SummarySettings(Section):
    """Map-reduce summaries (``!summary``, ``literai summarize``): sizes are estimated tokens."""

    chunk_tokens: Annotated[
        int, Field(ge=100, le=100_000, description="Text per model call; fit the context.")
    ] = 1200
    summary_tokens: Annotated[int, Field(ge=16, le=4096, description="Output per call.")] = 160
    max_depth: Annotated[int, Field(ge=1, le=10, description="Combining rounds at most.")] = 4
    temperature: Annotated[
        float, Field(ge=0, le=2, description="Sampling temperature of summaries (0: greedy).")
    ] = 0.2
    grounding: Annotated[
        float,
        Field(
            ge=0,
            le=1,
            description="A document summary's sentence is kept only when at least this "
            "share of its content words is in the text it summarizes (a summary with "
            "nothing left: the text's opening sentences stand in).",
        ),
    ] = 0.8
    chat_grounding: Annotated[
        float,
        Field(
            ge=0,
            le=1,
            description="The same for the model's summaries of a chat (chat_style: model), "
            "which paraphrase more; one with nothing left fails rather than recite the chat.",
        ),
    ] = 0.5
    history_lines: Annotated[
        int, Field(ge=10, le=100_000, description="Chat lines kept per channel for it.")
    ] = 500
    history_chars: Annotated[
        int, Field(ge=1000, le=10_000_000, description="Characters kept per channel for it.")
    ] = 100_000
    default_minutes: Minutes = Field(15.0, description="!summary with no minutes: this span.")
    recap_min_minutes: Minutes = Field(5.0, description="!recap every N: the smallest N allowed.")
    max_file_bytes: Annotated[
        int,
        Field(
            ge=1000,
            le=2**31,
            description="literai summarize: larger files refused (an EPUB: also what it "
            "inflates to).",
        ),
    ] = 20_000_000
    max_chunks: Annotated[
        int,
        Field(
            ge=1,
            le=100,
            description="!summary and recaps: the most recent chat that fits this many "
            "chunks is summarized (at most this many model calls plus the combining ones).",
        ),
    ] = 4
    chat_style: Literal["highlights", "model"] = Field(
        "highlights",
        description="!summary and recaps: the chat's most informative lines quoted, or "
        "the model's summary (bench/longform.py, 2026-12-01: the embedded model's chat "
        "summaries named 6% of the key facts, the quoted lines 60%).",
    )


class StorySettings(Section):
    """Story mode (``!story``, ``literai story``)."""

    passage_tokens: Annotated[
        int, Field(ge=16, le=2048, description="Tokens per passage at most.")
    ] = 140
    summary_tokens: Annotated[
        int, Field(ge=16, le=2048, description="Tokens for the story-so-far summary.")
    ] = 120
    temperature: Annotated[
        float, Field(ge=0, le=2, description="Sampling temperature of passages.")
    ] = 0.8
    repeat_threshold: Annotated[
        float, Field(ge=0, le=1, description="Share of 4-grams already used that is too much.")
    ] = 0.25
    retries: Annotated[int, Field(ge=0, le=5, description="Rewrites of a repetitive passage.")] = 2
    max_chars: Annotated[int, Field(ge=100, le=4000, description="A passage in chat.")] = 900
    max_passages: Annotated[
        int,
        Field(
            ge=2,
            le=10_000,
            description="Passages a story keeps (and checks for repetition); older ones "
            "live on in its summary.",
        ),
    ] = 50


class HostSettings(Section):
    """One podcast host."""

    name: str = Field(
        min_length=1,
        max_length=30,
        pattern=r"^[A-Za-z][\w .'-]*$",
        description="The host's name, as it is spoken and written in the script.",
    )
    voice: str = Field(min_length=1, max_length=64, description="A server voice id.")
    style: str = Field(
        "curious and warm", max_length=200, description="How the host talks (for the model)."
    )


def _default_hosts() -> list[HostSettings]:
    return [
        HostSettings(name="Ada", voice="joe", style="curious, asks good questions"),
        HostSettings(name="Bob", voice="robot", style="dry, precise, a little funny"),
    ]


class PodcastSettings(Section):
    """``literai podcast FILE`` and ``!podcast [text]``: two hosts who must sound different."""

    hosts: list[HostSettings] = Field(
        default_factory=_default_hosts,
        min_length=2,
        max_length=2,
        description="The two hosts: names, voices, styles.",
    )
    max_sections: Annotated[
        int, Field(ge=1, le=20, description="Parts of the text discussed at most.")
    ] = 4
    lines_per_section: Annotated[
        int, Field(ge=2, le=20, description="Dialogue lines per part.")
    ] = 4
    recap_every: Annotated[
        int, Field(ge=0, le=20, description="A recap after every N parts; 0: no recaps.")
    ] = 2
    temperature: Annotated[
        float, Field(ge=0, le=2, description="Sampling temperature of the hosts' lines.")
    ] = 0.7
    speech_model: str = Field(
        "tts-1", min_length=1, max_length=256, description="Speech model id on the server."
    )
    images: bool = Field(True, description="Draw each section with the server's image model.")
    image_size: Size = Field("512x512", description="Size of each section's picture.")
    chat_minutes: Minutes = Field(30.0, description="!podcast: this much recent chat.")
    cooldown_s: Annotated[
        float, Field(ge=0, le=86_400, description="!podcast: per channel, between episodes.")
    ] = 600.0
    keep_episodes: Annotated[
        int, Field(ge=1, le=100_000, description="Episodes kept; the oldest go first.")
    ] = 50
    max_total_bytes: Annotated[
        int,
        Field(ge=1_000_000, le=2**44, description="All episodes' bytes at most; oldest go."),
    ] = 2_000_000_000
