"""Start the web pages (the overlay and the episode player) for ``literai run``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from literai_core.chat import ChannelKey, Reply

from ..api import listen, loopback
from ..config import LiteraiConfig
from .access import Access
from .overlay import ALL, Overlay, overlay_name


@dataclass
class Pages:
    """The pages while they are served: what feeds the overlay and how to link an
    episode's player."""

    runner: web.AppRunner
    observe: Callable[[Reply], None]
    episode_link: Callable[[str], str]


def stream_channels(config: LiteraiConfig) -> list[str]:
    """The overlay's channels: ``web.channels``, or else the stream's own (every Twitch
    channel joined, and the console)."""
    if config.web.channels:
        return list(config.web.channels)
    own = []
    if config.twitch.enabled:
        own += [
            overlay_name(ChannelKey("twitch", login.lower())) for login in config.twitch.channels
        ]
    if config.console.enabled:
        own.append(overlay_name(ChannelKey("console", config.console.channel)))
    return own


async def open_pages(config: LiteraiConfig, key: str | None) -> Pages:
    from .episodes import Episodes

    settings = config.web
    access = Access(key)
    overlay = Overlay(settings, stream_channels(config))
    app = overlay.app(middlewares=[access.middleware])
    Episodes(Path(config.data_dir) / "episodes").add_routes(app)
    runner, port = await listen(app, settings.host, settings.port, "web")
    host = loopback(settings.host)
    needs = f"?key=${settings.key_env}" if key else ""  # the variable's name, never its value
    print(f"literai: overlay for OBS at http://{host}:{port}/overlay/{ALL}{needs}", file=sys.stderr)
    base = (settings.public_url or f"http://{host}:{port}").rstrip("/")

    def link(episode_id: str) -> str:
        token = access.episode_token(episode_id)
        return f"{base}/episodes/{episode_id}/" + (f"?t={token}" if token else "")

    return Pages(runner, overlay.observe, link)
