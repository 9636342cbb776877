"""``literai run``: the inference API (started here, or ``client.base_url``), the chat
core built whole, the web pages if enabled, and every enabled adapter, until a signal,
the end of console input, or a fatal error. Everything opened here is closed here, in
reverse order."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from literai_core.commands import default_components
from literai_core.core import ChatCore
from literai_core.inference import OpenAIInference
from literai_core.memory import Memory
from literai_core.story import StoryStore

from .api import api_client
from .config import Environment, LiteraiConfig
from .reload import Reloader
from .stop import Stop, until

Launch = Callable[[ChatCore, LiteraiConfig, Environment, Stop, Reloader], Awaitable[None]]


def _launchers(config: LiteraiConfig) -> list[Launch]:
    """Each enabled adapter's launch function (imported only when enabled)."""
    found: list[Launch] = []
    if config.console.enabled:
        from .console import launch as console

        found.append(console)
    if config.discord.enabled:
        from .discord.launch import launch as discord

        found.append(discord)
    if config.twitch.enabled:
        from .twitch.launch import launch as twitch

        found.append(twitch)
    if config.irc.enabled:
        from .irc.launch import launch as irc

        found.append(irc)
    return found


async def run(
    config: LiteraiConfig, env: Environment, load: Callable[[], LiteraiConfig] | None = None
) -> int:
    """Run until stopped; ``load`` re-reads the config for ``!reload``."""
    if not config.bots_enabled:
        print(
            "literai: no bot is configured (enable console, discord, twitch or irc)",
            file=sys.stderr,
        )
        return 2
    stop = Stop.installed()
    async with contextlib.AsyncExitStack() as stack:
        client, ready = await stack.enter_async_context(api_client(config, env, stop))
        if not ready:
            return stop.code
        data = Path(config.data_dir)
        reloader = Reloader(load or (lambda: config), config)
        observers, link, pages = [], None, None
        if config.web.enabled:
            from .web.launch import open_pages

            pages = await open_pages(config, env.web_key)
            stack.push_async_callback(pages.runner.cleanup)
            observers, link = [pages.observe], pages.episode_link
        stories = await asyncio.to_thread(StoryStore, data / "stories.sqlite")
        components = default_components(
            stories=stories, episodes=data / "episodes", episode_link=link, reload=reloader
        )
        memory = None
        if config.bot.memory.enabled:  # the regulars, across restarts
            memory = await asyncio.to_thread(Memory, data / "memory.sqlite", config.bot.memory)
            stack.push_async_callback(memory.aclose)
        inference = OpenAIInference(client, config.model)
        core = ChatCore(config.bot, inference, components, observers=observers, memory=memory)
        stack.push_async_callback(core.aclose)  # a podcast being recorded, recap timers
        if core.filter is not None:  # moderators' !filter words, kept across restarts
            await asyncio.to_thread(core.filter.load, data / "filter-words.json")
        if pages is not None:
            pages.metrics.core = core
            if pages.voice is not None:  # the voice page talks once the core exists
                pages.voice.attach(core)
        reloader.appliers.append(lambda new: core.reconfigure(new.bot))
        bots: list[Awaitable[object]] = [
            launch(core, config, env, stop, reloader) for launch in _launchers(config)
        ]
        if pages is not None and pages.voice is not None:
            bots.append(stop.event.wait())  # the page runs until the process stops
        await until(stop, asyncio.gather(*bots))
    return stop.code
