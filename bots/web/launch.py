"""Start the web pages (the overlay, the episode player, the voice page) for ``literai run``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily

from literai_core.chat import ChannelKey, Reply

from ..api import listen, loopback
from ..config import LiteraiConfig
from .access import Access
from .overlay import ALL, Overlay, overlay_name


class CoreMetrics:
    """``/metrics`` beside the pages: the chat core's counters in Prometheus' format
    (the content filter's blocks), once ``core`` is set."""

    def __init__(self) -> None:
        self.core: Any = None
        self.voice: Any = None
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def collect(self) -> Iterator[CounterMetricFamily]:
        filt = getattr(self.core, "filter", None)
        yield CounterMetricFamily(
            "literai_filter_blocks",
            "Answers the content filter changed and commands it refused",
            value=filt.blocks if filt is not None else 0,
        )
        if self.voice is not None:
            yield CounterMetricFamily(
                "literai_voice_turns", "Utterances the voice page answered", value=self.voice.turns
            )
            yield CounterMetricFamily(
                "literai_voice_barge_ins",
                "Voice answers stopped by the speaker talking over them",
                value=self.voice.barge_ins,
            )
            yield CounterMetricFamily(
                "literai_voice_early_dropped",
                "Voice answers begun at a pause and dropped unseen when the speaker went on",
                value=self.voice.early_dropped,
            )

    async def handle(self, _request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@dataclass
class Pages:
    """The pages while they are served: what feeds the overlay, how to link an
    episode's player, and the counters ``/metrics`` shows."""

    runner: web.AppRunner
    observe: Callable[[Reply], None]
    episode_link: Callable[[str], str]
    metrics: CoreMetrics
    voice: Any = None  # bots.voice.page.Voice when voice.enabled


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
    if config.voice.enabled:
        own.append(overlay_name(ChannelKey("voice", config.voice.channel)))
    return own


async def open_pages(config: LiteraiConfig, key: str | None) -> Pages:
    from .episodes import Episodes

    settings = config.web
    access = Access(key)
    overlay = Overlay(settings, stream_channels(config))
    app = overlay.app(middlewares=[access.middleware])
    Episodes(Path(config.data_dir) / "episodes").add_routes(app)
    metrics = CoreMetrics()
    app.router.add_get("/metrics", metrics.handle)
    voice = None
    if config.voice.enabled:
        from ..voice.page import Voice

        voice = Voice(config.voice)
        voice.add_routes(app)
        metrics.voice = voice
    runner, port = await listen(app, settings.host, settings.port, "web")
    host = loopback(settings.host)
    needs = f"?key=${settings.key_env}" if key else ""  # the variable's name, never its value
    print(f"literai: overlay for OBS at http://{host}:{port}/overlay/{ALL}{needs}", file=sys.stderr)
    if voice is not None:
        print(f"literai: talk to it at http://{host}:{port}/voice{needs}", file=sys.stderr)
    base = (settings.public_url or f"http://{host}:{port}").rstrip("/")

    def link(episode_id: str) -> str:
        token = access.episode_token(episode_id)
        return f"{base}/episodes/{episode_id}/" + (f"?t={token}" if token else "")

    return Pages(runner, overlay.observe, link, metrics, voice)
