"""The Discord adapter's settings (the ``discord`` section)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from literai_core.settings import Section


class DiscordVoiceSettings(Section):
    """Speaking in voice channels (``!join``); needs libopus from the OS packages."""

    enabled: bool = Field(True, description="Offer !join, !leave, !skip and !stop.")
    speak_replies: bool = Field(False, description="Also speak text answers while connected.")
    queue: Annotated[int, Field(ge=1, le=100, description="Clips waiting per guild.")] = 5
    idle_leave_s: Annotated[
        float, Field(ge=0, le=86_400, description="Leave after this long silent; 0: never.")
    ] = 300.0
    connect_timeout_s: Annotated[
        float, Field(gt=0, le=120, description="Give up joining a voice channel after this.")
    ] = 15.0


Ids = list[str]


class DiscordSettings(Section):
    """The Discord bot. The token comes from the environment variable ``token_env``."""

    enabled: bool = Field(False, description="Run the Discord bot.")
    token_env: str = Field("DISCORD_TOKEN", description="Environment variable with the token.")
    edit_interval_s: Annotated[
        float, Field(ge=0.5, le=60, description="Edit a streaming reply at most this often.")
    ] = 1.0
    combine_answers: bool = Field(
        True,
        description="Answers arriving while another is still being posted in the channel "
        "share one message, each part naming its asker (no pings).",
    )
    actions_per_5s: Annotated[
        int, Field(ge=1, le=5, description="Sends plus edits per channel per 5 s.")
    ] = 5
    max_upload_bytes: Annotated[
        int,
        Field(
            ge=100_000,
            le=500 * 2**20,
            description="Files above this are re-encoded (audio to Ogg Opus) or not attached; "
            "Discord's limit for servers without boosts is 10 MiB.",
        ),
    ] = 10 * 2**20
    allow_users: Ids = Field(default_factory=list, description="User ids; empty: everyone.")
    block_users: Ids = Field(default_factory=list, description="User ids never answered.")
    allow_roles: Ids = Field(default_factory=list, description="Role names or ids; empty: all.")
    block_roles: Ids = Field(default_factory=list, description="Role names or ids never answered.")
    allow_channels: Ids = Field(default_factory=list, description="Channel ids; empty: all.")
    block_channels: Ids = Field(default_factory=list, description="Channel ids ignored.")
    slash_commands: bool = Field(True, description="Register the commands as /commands too.")
    api_base_url: str | None = Field(
        None,
        pattern=r"^https?://\S+$",
        description="Only for a Discord-compatible server or a local test double; "
        "empty: Discord itself.",
    )
    gateway_url: str | None = Field(
        None, pattern=r"^wss?://\S+$", description="As api_base_url, for the gateway."
    )
    voice: DiscordVoiceSettings = Field(
        default_factory=DiscordVoiceSettings, description="Voice channels."
    )
