"""Run the Discord adapter until it ends or the process stops."""

from __future__ import annotations

from literai_core.core import ChatCore

from ..config import Environment, LiteraiConfig
from ..reload import Reloader
from ..stop import Stop
from .settings import DiscordSettings


async def launch(
    core: ChatCore, config: LiteraiConfig, env: Environment, stop: Stop, reloader: Reloader
) -> None:
    """Log in with the token from ``env`` and serve; a rejected token or a missing
    intent stops the process with one line."""
    import discord

    from .client import LiteraiDiscord, point_at

    assert env.discord_token is not None
    s: DiscordSettings = config.discord
    point_at(s.api_base_url, s.gateway_url)
    failure = None
    async with LiteraiDiscord(core, s) as client:
        reloader.appliers.append(lambda new: client.reconfigure(new.discord))
        try:
            await client.start(env.discord_token)
        except discord.LoginFailure:
            failure = f"discord: the token in {s.token_env} was rejected"
        except discord.PrivilegedIntentsRequired:
            failure = (
                "discord: enable the Message Content intent for this bot in the Developer Portal"
            )
    if failure is not None:  # said once the client has closed, so nothing cuts that short
        stop.set(1, failure)
