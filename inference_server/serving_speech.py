"""The logic behind ``/v1/audio/speech`` and ``/v1/audio/voices``: check a request
against the configured voices, run the synthesis and encode it. Routes parse the body,
call ``SpeechServing`` and write the ``SpeechAnswer`` it hands back; nothing here knows
about HTTP transport.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from .audio import CONTENT_TYPES, EncoderError, encode, ffmpeg_available
from .backends.base import BackendError
from .protocol import ApiError
from .protocol_media import SpeechRequest
from .speech import SpeechService, VoiceUnavailable


@dataclass
class SpeechAnswer:
    """Encoded audio to send: as it comes (``streaming``), or whole with its length."""

    content_type: str
    streaming: bool
    audio: AsyncIterator[bytes]

    async def whole(self) -> bytes:
        return b"".join([piece async for piece in self.audio])


class SpeechServing:
    """Speech for the routes; ``service`` is None where speech is not configured."""

    def __init__(self, service: SpeechService | None) -> None:
        self.service = service

    @property
    def load_finished(self) -> bool:
        """Every voice loaded or given up on (true at once without speech)."""
        return self.service is None or self.service.load_finished

    def voices(self) -> list[dict[str, Any]]:
        return self.service.describe() if self.service is not None else []

    def require(self) -> SpeechService:
        """The service, or a 404 that says how to configure it."""
        if self.service is None:
            raise ApiError(
                404,
                "speech is not configured on this server (set server.speech.enabled)",
                code="speech_not_configured",
            )
        return self.service

    @asynccontextmanager
    async def speak(self, req: SpeechRequest) -> AsyncIterator[SpeechAnswer]:
        """The synthesis of a valid request, encoded; leaving the block stops it. Voice
        trouble, and synthesis or encoding errors raised in the block, become API errors."""
        service = self.require()
        voice = self._voice(req, service)
        long_text = len(req.input) > service.settings.stream_above_chars
        streaming = req.stream or req.stream_format == "audio" or long_text
        try:
            async with service.synthesis(voice, req.input, req.speed) as (rate, pcm):
                audio = encode(pcm, req.response_format, rate, streaming=streaming)
                yield SpeechAnswer(CONTENT_TYPES[req.response_format], streaming, audio)
        except VoiceUnavailable as exc:
            raise ApiError(503, str(exc), type="server_error", code="voice_unavailable") from None
        except (BackendError, EncoderError) as exc:
            raise ApiError(500, f"speech failed: {exc}", type="server_error") from None

    @staticmethod
    def _voice(req: SpeechRequest, service: SpeechService) -> str:
        """The configured voice for a request, after checking what the model cannot."""
        if not req.input.strip():
            raise ApiError(400, "invalid value for 'input': it is empty", param="input")
        limit = service.settings.max_input_chars
        if len(req.input) > limit:
            raise ApiError(
                400,
                f"invalid value for 'input': {len(req.input)} characters; the limit is {limit}",
                param="input",
            )
        voice = service.resolve(req.voice)
        if voice is None:
            raise ApiError(
                400,
                f"invalid value for 'voice': unknown voice {req.voice!r}; this server has: "
                f"{', '.join(service.names())} (see /v1/audio/voices)",
                param="voice",
            )
        if req.stream_format == "sse":
            raise ApiError(
                400, "stream_format 'sse' is not supported; use 'audio'", param="stream_format"
            )
        if req.response_format not in ("wav", "pcm") and not ffmpeg_available():
            raise ApiError(
                400,
                f"response_format {req.response_format!r} needs ffmpeg on the server; "
                "use 'wav' or 'pcm'",
                param="response_format",
            )
        return voice
