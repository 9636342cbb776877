"""The voice conversation page's settings (the ``voice`` section)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from literai_core.settings import Section


class VoiceSettings(Section):
    """Talk to the bot: a page at ``/voice`` beside the overlay (needs ``web.enabled``).
    The browser streams the microphone over a WebSocket; literai finds the end of
    speech, transcribes it through the server (``/v1/audio/transcriptions``), answers it
    as a chat command in its own channel, and streams the answer back as text and
    speech, sentence by sentence. Speaking while the bot talks stops it (barge-in)."""

    enabled: bool = Field(False, description="Serve the voice page at /voice.")
    channel: str = Field(
        "voice",
        pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$",
        description="Its channel: its own window, persona and limits; on the overlay as "
        "voice-<channel>.",
    )
    user: str = Field(
        "streamer", min_length=1, max_length=40, description="The speaker's name in chat."
    )
    command: str = Field(
        "ask",
        pattern=r"^[a-z0-9_]{1,32}$",
        description="The command what you say is given to (ask: an answer; gpt2: a continuation).",
    )
    persona: str = Field(
        "You are literai, a friendly, witty companion talking out loud with the streamer. "
        "Speak plainly: begin with a short sentence of a few words, then say at most one "
        "more. No lists, no emoji.",
        max_length=2000,
        description="The voice channel's persona: spoken answers want short sentences (the "
        "first is spoken sooner). Empty: bot.persona.",
    )
    context: bool = Field(
        False,
        description="Give the model the conversation so far (the channel's window: what "
        "the user said and what the bot answered, turn by turn). Off: "
        "each utterance is answered on its own; the packaged 135M model repeats its earlier "
        "answers back when it sees them, and reading them delays the first word "
        "(bench/voice.py). Worth turning on with a larger model.",
    )
    transcription_model: str = Field(
        "whisper-1", min_length=1, max_length=256, description="Speech-to-text model id."
    )
    threshold: Annotated[
        float, Field(ge=0.05, le=0.95, description="Speech probability (Silero VAD) that counts.")
    ] = 0.5
    start_ms: Annotated[
        float, Field(ge=32, le=2000, description="Speech this long starts an utterance.")
    ] = 96
    pause_ms: Annotated[
        float,
        Field(ge=32, le=5000, description="After this much silence, transcribing begins."),
    ] = 96
    end_ms: Annotated[
        float, Field(ge=64, le=10_000, description="This much silence ends an utterance.")
    ] = 480
    answer_early: bool = Field(
        True,
        description="Begin the answer at the first pause once its words are heard, shown "
        "and spoken only when the end of speech is found (dropped unseen if you go on): "
        "the end-of-speech wait and the answer's first sentence overlap (bench/voice.py). "
        "Not with context on.",
    )
    max_utterance_s: Annotated[
        float, Field(ge=1, le=120, description="An utterance ends at this length.")
    ] = 30
    max_sessions: Annotated[int, Field(ge=1, le=100, description="Voice pages open at once.")] = 2

    @model_validator(mode="after")
    def _pause_before_end(self) -> VoiceSettings:
        if self.pause_ms >= self.end_ms:
            raise ValueError("pause_ms must be shorter than end_ms")
        return self
