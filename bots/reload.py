"""``!reload``: re-read the config file and apply what can change while running."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from inference_server.settings import ConfigError

from .config import LiteraiConfig

log = logging.getLogger(__name__)


class Reloader:
    """Re-reads the config and hands the new one to every applier (the core, each
    adapter). What cannot change live needs a restart; it says which."""

    LIVE = ("bot", "discord")

    def __init__(self, load: Callable[[], LiteraiConfig], config: LiteraiConfig) -> None:
        self.load = load
        self.current = config
        self.appliers: list[Callable[[LiteraiConfig], None]] = []

    async def __call__(self) -> str:
        try:
            new = await asyncio.to_thread(self.load)  # file I/O, off the loop
        except ConfigError as exc:
            return f"Config not reloaded, nothing changed: {str(exc)[:300]}"
        old, self.current = self.current, new
        for apply in self.appliers:
            apply(new)
        pinned = [
            name
            for name in type(new).model_fields
            if name not in self.LIVE and getattr(new, name) != getattr(old, name)
        ]
        if old.discord.token_env != new.discord.token_env or (
            old.discord.enabled != new.discord.enabled
        ):
            pinned.append("discord.enabled/token_env")
        log.info("config reloaded; needs a restart: %s", pinned or "nothing")
        if pinned:
            return f"Config reloaded. A restart is needed for: {', '.join(sorted(pinned))}."
        return "Config reloaded."
