"""The Twitch adapter's settings (the ``twitch`` section)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from literai_core.events import EventSettings
from literai_core.settings import Section

# What a channel-point reward can do: the bot command it runs with the viewer's input.
RewardAction = Literal["say", "ask", "gpt2", "imagine", "story", "podcast"]
# Events only the broadcaster's own token may subscribe to (their scopes: README).
BROADCASTER_EVENTS = ("sub", "resub", "gift", "cheer")


class TwitchSettings(Section):
    """The Twitch bot (twitchio 3: EventSub WebSocket in, Helix out). It chats as its own
    bot account; all four credentials come from environment variables."""

    enabled: bool = Field(False, description="Run the Twitch bot.")
    channels: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,25}$")]] = Field(
        default_factory=list, description="Channel logins to join (the broadcasters)."
    )
    client_id_env: str = Field(
        "TWITCH_CLIENT_ID", description="Environment variable with the app's client id."
    )
    client_secret_env: str = Field(
        "TWITCH_CLIENT_SECRET", description="Environment variable with the app's secret."
    )
    token_env: str = Field("TWITCH_BOT_TOKEN", description="The bot account's user token.")
    refresh_token_env: str = Field(
        "TWITCH_BOT_REFRESH_TOKEN", description="Environment variable with its refresh token."
    )
    messages_per_30s: Annotated[
        int, Field(ge=1, le=100, description="Per channel; 100 once the bot is a moderator.")
    ] = 20
    send_queue: Annotated[
        int, Field(ge=1, le=500, description="Messages waiting per channel before refusing.")
    ] = 30
    api_base_url: str | None = Field(
        None,
        pattern=r"^https?://\S+$",
        description="Only for a Twitch-compatible server or a local test double; "
        "empty: Twitch itself (Helix).",
    )
    id_base_url: str | None = Field(
        None, pattern=r"^https?://\S+$", description="As api_base_url, for id.twitch.tv."
    )
    events: EventSettings = Field(
        default_factory=EventSettings, description="Reactions to follows, raids, subs, cheers."
    )
    redemptions: dict[Annotated[str, Field(min_length=1, max_length=45)], RewardAction] = Field(
        default_factory=dict,
        description="Channel-point reward title -> say, ask, gpt2, imagine, story or podcast, "
        "run with the viewer's input; fulfilled when it worked, else cancelled (points back).",
    )
    broadcaster_token_env: str = Field(
        "TWITCH_BROADCASTER_TOKEN",
        description="The broadcaster's user token: needed for subs, cheers and redemptions.",
    )
    broadcaster_refresh_token_env: str = Field(
        "TWITCH_BROADCASTER_REFRESH_TOKEN", description="Its refresh token."
    )
    eventsub_url: str | None = Field(
        None, pattern=r"^wss?://\S+$", description="As api_base_url, for EventSub's WebSocket."
    )

    def needs_broadcaster(self) -> bool:
        """Whether the broadcaster's own token is needed (subs, cheers, redemptions)."""
        on = [kind for kind in BROADCASTER_EVENTS if self.events.of(kind).mode != "off"]
        return bool(on or self.redemptions)


@dataclass(frozen=True)
class Credentials:
    """The Twitch secrets, read from the environment at start (bots/config.py); the
    broadcaster's token pair only where ``needs_broadcaster``."""

    client_id: str
    client_secret: str
    token: str
    refresh: str
    broadcaster_token: str = ""
    broadcaster_refresh: str = ""
