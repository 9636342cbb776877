"""The IRC adapter's settings (the ``irc`` section)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from literai_core.settings import Section


class IrcSettings(Section):
    """A generic IRC bot (pydle), IRCv3 message tags when the server offers them."""

    enabled: bool = Field(False, description="Run the IRC bot.")
    host: str = Field(
        "irc.libera.chat", min_length=1, max_length=253, description="The IRC server."
    )
    port: Annotated[int, Field(ge=1, le=65535, description="Its port.")] = 6697
    tls: bool = Field(True, description="Connect with TLS.")
    tls_verify: bool = Field(True, description="Check the server's certificate.")
    nick: str = Field(
        "literai",
        pattern=r"^[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]{0,29}$",
        description="The bot's nickname.",
    )
    realname: str = Field(
        "literai, a local AI companion", max_length=100, description="Its real name field."
    )
    channels: list[Annotated[str, Field(pattern=r"^[#&][^\s,\x07]{1,49}$")]] = Field(
        default_factory=list, description="Channels to join."
    )
    password_env: str | None = Field(None, description="Variable with the server password.")
    sasl_username: str | None = Field(None, max_length=100, description="SASL account name.")
    sasl_password_env: str | None = Field(None, description="Variable with the SASL password.")
    messages_per_window: Annotated[
        int, Field(ge=1, le=100, description="Flood control: messages per channel per window.")
    ] = 4
    window_s: Annotated[float, Field(gt=0, le=300, description="Flood control's window.")] = 8.0
    send_queue: Annotated[
        int, Field(ge=1, le=500, description="Messages waiting per channel before refusing.")
    ] = 20
    max_line_chars: Annotated[
        int,
        Field(
            ge=50,
            le=400,
            description="Characters per message at most; each is also split to fit the "
            "512-byte IRC line (prefix, tags and command included) in UTF-8 bytes.",
        ),
    ] = 350
    reconnect_delays_s: list[Annotated[float, Field(ge=0, le=3600)]] = Field(
        default_factory=lambda: [1.0, 5.0, 15.0, 60.0, 300.0],
        min_length=1,
        description="Waits between reconnect attempts; the last repeats.",
    )
