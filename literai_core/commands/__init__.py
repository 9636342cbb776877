"""Command families; each module's component registers its commands with the router.
``default_components`` is the standard set, given the collaborators each family needs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from ..router import Component
from ..story import StoryStore
from .chat import ChatCommands
from .help import HelpCommands
from .media import MediaCommands
from .memory import MemoryCommands
from .mod import FilterCommands, ModCommands
from .podcast import PodcastCommands
from .story import StoryCommands
from .summary import SummaryCommands


def default_components(
    *,
    stories: StoryStore | None = None,
    episodes: Path | None = None,
    episode_link: Callable[[str], str] | None = None,
    reload: Callable[[], Awaitable[str]] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> list[Component]:
    """Every command family. ``stories``/``episodes`` None: story mode/podcasts say they
    are not set up; ``reload`` None: ``!reload`` says it is not available; ``clock`` and
    ``sleep`` drive timed recaps (the adapters' clock)."""
    return [
        ChatCommands(),
        HelpCommands(),
        MediaCommands(),
        ModCommands(reload),
        FilterCommands(),
        MemoryCommands(),
        SummaryCommands(clock, sleep),
        StoryCommands(stories),
        PodcastCommands(episodes, episode_link),
    ]
