"""Run the IRC adapter until the process stops (it reconnects by itself)."""

from __future__ import annotations

from literai_core.core import ChatCore

from ..config import Environment, LiteraiConfig
from ..reload import Reloader
from ..stop import Stop


async def launch(
    core: ChatCore, config: LiteraiConfig, env: Environment, stop: Stop, reloader: Reloader
) -> None:
    from .client import LiteraiIrc

    bot = LiteraiIrc(
        core, config.irc, password=env.irc_password, sasl_password=env.irc_sasl_password
    )
    reloader.appliers.append(lambda new: bot.reconfigure(new.irc))
    try:
        await bot.run()  # reconnects by itself; ends only when cancelled
    finally:
        await bot.close()
