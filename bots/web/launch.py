"""Start the web pages (the overlay and the episode player) for ``literai run``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from literai_core.chat import Reply

from ..api import listen, loopback
from .settings import WebSettings


@dataclass
class Pages:
    """The pages while they are served: what feeds the overlay and how to link an
    episode's player."""

    runner: web.AppRunner
    observe: Callable[[Reply], None]
    episode_link: Callable[[str], str]


async def open_pages(settings: WebSettings, data_dir: Path) -> Pages:
    from .episodes import Episodes
    from .overlay import ALL, Overlay

    overlay = Overlay(settings)
    app = overlay.app()
    Episodes(data_dir / "episodes").add_routes(app)
    runner, port = await listen(app, settings.host, settings.port, "web")
    host = loopback(settings.host)
    print(f"literai: overlay for OBS at http://{host}:{port}/overlay/{ALL}", file=sys.stderr)
    base = (settings.public_url or f"http://{host}:{port}").rstrip("/")
    return Pages(runner, overlay.observe, lambda episode_id: f"{base}/episodes/{episode_id}/")
