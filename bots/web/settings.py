"""The web pages' settings (the ``web`` section)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from literai_core.settings import Section


class WebSettings(Section):
    """Pages served by ``literai run`` (bots/web): the live-stream overlay for OBS at
    ``/overlay/<channel>`` and the episode player. Loopback by default: OBS runs on the
    same machine."""

    enabled: bool = Field(False, description="Serve the overlay and episode pages.")
    host: str = Field("127.0.0.1", description="Address to bind.")
    port: Annotated[int, Field(ge=0, le=65535, description="Port; 0 picks a free one.")] = 8090
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="How viewers reach these pages (episode links in chat); "
        "empty: http://host:port.",
    )
    idle_s: Annotated[
        float, Field(ge=1, le=3600, description="Overlay fades out after this long quiet.")
    ] = 20.0
    caption_interval_s: Annotated[
        float, Field(ge=0.05, le=10, description="A growing caption is sent this often.")
    ] = 0.25
    media_cache_bytes: Annotated[
        int, Field(ge=1_000_000, le=2**34, description="Images and speech kept for pages.")
    ] = 64_000_000
    max_viewers: Annotated[
        int, Field(ge=1, le=1000, description="Open overlay pages per channel.")
    ] = 16
    max_streams_per_client: Annotated[
        int,
        Field(ge=1, le=1000, description="Open overlay event streams per client address."),
    ] = 4
    channels: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")]] = Field(
        default_factory=list,
        description="Overlay names of the channels the overlay shows (e.g. twitch-mychannel, "
        "discord-123456789, irc-literai). Empty: the stream's own channels (every "
        "twitch.channels login, and the console). Private conversations (DMs) never show.",
    )
    key_env: str = Field(
        "LITERAI_WEB_KEY",
        description="Environment variable with the pages' key (open them with ?key=...). "
        "Required when host is not loopback; episode links posted in chat carry a key "
        "for that episode only.",
    )
