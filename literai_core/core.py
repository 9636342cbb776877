"""The chat core: a ChatLine in, a Reply (or nothing) out. Platform adapters call
``handle`` and show the reply their own way."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Hashable
from pathlib import Path
from typing import Any

from .chat import ChannelKey, ChatLine, Reply, ReplyKind
from .commands.chat import ChatCommands
from .commands.help import HelpCommands
from .commands.media import MediaCommands
from .commands.mod import ModCommands
from .commands.podcast import PodcastCommands
from .commands.story import StoryCommands
from .commands.summary import SummaryCommands
from .config import BotSettings
from .inference import Inference
from .limits import ChannelQueues, Cooldown, Notices
from .router import CommandRouter, Component, Context
from .story import StoryStore
from .window import RollingWindows

log = logging.getLogger(__name__)


def default_components() -> list[Component]:
    return [
        ChatCommands(),
        HelpCommands(),
        MediaCommands(),
        ModCommands(),
        SummaryCommands(),
        StoryCommands(),
        PodcastCommands(),
    ]


class ChatCore:
    def __init__(
        self,
        settings: BotSettings,
        inference: Inference,
        components: list[Component] | None = None,
    ) -> None:
        self.settings = settings
        self.inference = inference
        self.router = CommandRouter(settings.prefix)
        self.windows = RollingWindows(
            settings.window_lines, settings.window_chars, settings.max_channels
        )
        # A longer memory of each channel, for !summary only (never a prompt as is).
        self.history = RollingWindows(
            settings.summary.history_lines, settings.summary.history_chars, settings.max_channels
        )
        self.user_cooldown = Cooldown(settings.user_cooldown_s)
        self.channel_cooldown = Cooldown(settings.channel_cooldown_s)
        self.queues = ChannelQueues(settings.channel_queue)
        self.notices = Notices()
        self.media_slots = ChannelQueues(settings.media_concurrency)  # one key: all media
        self.personas: OrderedDict[ChannelKey, str] = OrderedDict()  # set by moderators
        self.paused: set[ChannelKey] = set()
        # ``!reload``: set by the process that knows where the config came from; it
        # re-reads it, applies what can change live and says what happened.
        self.reloader: Callable[[], Awaitable[str]] | None = None
        # Called with every answer and media reply as it is handed to an adapter, so
        # other outputs (the stream overlay) can show it too; see Reply.watch.
        self.observers: list[Callable[[Reply], None]] = []
        self.stories: StoryStore | None = None  # set where there is a data folder
        self.episodes: Path | None = None  # where !podcast writes; None: no podcasts here
        # The player page of an episode id, where a web server serves it (bots/web).
        self.episode_link: Callable[[str], str] | None = None
        # Posting without a chat line to answer (a finished podcast, a timed recap):
        # each adapter registers how it posts to one of its channels, by platform.
        self.announcers: dict[str, Callable[[Reply], Awaitable[None]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        for component in components if components is not None else default_components():
            self.router.add_component(component)

    async def handle(self, line: ChatLine) -> Reply | None:
        """Decide what to do with one chat line. Time comes from ``line.time``."""
        parsed = self.router.parse(line.text)
        if parsed is None:
            self.windows.add(line)
            self.history.add(line)
            return None
        name, args = parsed
        p = self.settings.prefix
        cmd = self.router.get(name, line.platform)
        user_key = (line.platform, line.channel, line.user)
        if cmd is None:
            if not self.settings.answer_unknown_commands:
                return None
            quiet = self.settings.user_cooldown_s
            if not self.notices.allow(("unknown", *user_key), line.time, quiet):
                return None
            return self._notice(line, f"Unknown command {p}{name[:32]}. Try {p}help.")
        if cmd.mod_only and not self.is_mod(line):
            return self._notice(line, f"Only moderators can use {p}{cmd.name}.")
        if line.scope_key in self.paused and cmd.uses_model:
            return None  # paused by a moderator: model commands are ignored quietly
        if cmd.requires_args and not args:
            return self._notice(line, f"Usage: {self.router.usage(cmd)}")
        if len(args) > self.settings.max_prompt_chars:
            return self._notice(
                line,
                f"That's too long for me ({len(args)} characters; "
                f"the limit is {self.settings.max_prompt_chars}).",
            )
        ctx = Context(line, args, self)
        if not cmd.uses_model:
            return await cmd.handler(ctx)

        left = self.user_cooldown.retry_after(user_key, line.time)
        if left is None:
            left = self.channel_cooldown.retry_after(line.key, line.time)
        if left is not None:
            if self.notices.allow(("wait", *user_key), line.time, left):
                slow = f"@{line.user} slow down — try again in {left:.0f} s."
                return Reply(line, ReplyKind.REFUSED, slow)
            return None
        if not self.queues.try_enter(line.key):
            if not self.notices.allow(
                ("busy", *user_key), line.time, self.settings.user_cooldown_s
            ):
                return None
            busy = f"@{line.user} I'm busy with other questions — try again soon."
            return Reply(line, ReplyKind.REFUSED, busy)
        self.user_cooldown.hit(user_key, line.time)
        self.channel_cooldown.hit(line.key, line.time)
        try:
            reply = await cmd.handler(ctx)
        except Exception:
            self.queues.leave(line.key)
            log.exception("command %s failed", name)
            return Reply(line, ReplyKind.ERROR, "Sorry, something went wrong on my side.")
        if reply is None or not reply.streaming:
            # Finished already (a notice, a media reply): the slot is free now, and
            # adapters see the reply whole, media included.
            self.queues.leave(line.key)
            if reply is not None and reply.kind is ReplyKind.ANSWER:
                self._remember(line, await reply.text())
            if reply is not None and reply.kind in (ReplyKind.ANSWER, ReplyKind.MEDIA):
                self._observe(reply)
            return reply
        # The slot is freed when the reply has been read, or when an adapter drops the
        # reply unread (finalizer), so a lost reply can never lock its channel.
        slot = _Slot(self.queues, line.key)
        outer = Reply.from_stream(line, lambda outer: self._relay(outer, reply, slot))
        weakref.finalize(outer, slot.release)
        self._observe(outer)
        return outer

    async def _relay(self, outer: Reply, inner: Reply, slot: _Slot) -> AsyncIterator[str]:
        """Pass a model reply through; when it ends, free the channel slot and remember
        the bot's own line in the window."""
        line = inner.line
        try:
            async for piece in inner.deltas():
                yield piece
            text = await inner.text()
        except Exception:  # a bug or an unexpected client error: still a polite line
            log.exception("reply to %r failed", line.text[:40])
            outer.finish("Sorry, something went wrong on my side.", ReplyKind.ERROR)
            return
        finally:
            slot.release()
        outer.finish(text, inner.kind, inner.media)
        if inner.kind is ReplyKind.ANSWER:
            self._remember(line, text)

    def _observe(self, reply: Reply) -> None:
        for observe in self.observers:
            try:
                observe(reply)
            except Exception:  # an overlay bug must not cost the chat its answer
                log.exception("a reply observer failed")

    async def announce(self, reply: Reply) -> bool:
        """Post ``reply`` to its line's channel unasked; False where no adapter of that
        platform is running. Observers (the overlay) see it too."""
        post = self.announcers.get(reply.line.platform)
        if post is None:
            return False
        if reply.kind in (ReplyKind.ANSWER, ReplyKind.MEDIA):
            self._observe(reply)
        try:
            await post(reply)
        except Exception:  # a platform failure must not end the job that announced
            log.exception("could not announce in %s", reply.line.channel)
            return False
        return True

    def spawn(self, job: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run ``job`` beside the chat (a podcast being made, a recap timer); it is
        cancelled by ``aclose`` and its failure is logged, never lost."""
        task = asyncio.create_task(job, name=name)
        self._tasks.add(task)

        def done(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            if not task.cancelled() and task.exception() is not None:
                log.error("%s failed", name, exc_info=task.exception())

        task.add_done_callback(done)
        return task

    async def aclose(self) -> None:
        """Cancel background jobs and wait for them to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def reconfigure(self, settings: BotSettings) -> None:
        """Apply new bot settings live (``!reload``); windows, cooldowns in progress and
        channel personas are kept."""
        self.settings = settings
        self.router.prefix = settings.prefix
        self.windows.max_lines = settings.window_lines
        self.windows.max_chars = settings.window_chars
        self.windows.max_channels = settings.max_channels
        self.history.max_lines = settings.summary.history_lines
        self.history.max_chars = settings.summary.history_chars
        self.history.max_channels = settings.max_channels
        self.user_cooldown.seconds = settings.user_cooldown_s
        self.channel_cooldown.seconds = settings.channel_cooldown_s
        self.queues.limit = settings.channel_queue
        self.media_slots.limit = settings.media_concurrency

    def is_mod(self, line: ChatLine) -> bool:
        return bool(line.roles & set(self.settings.mod_roles))

    def persona(self, key: ChannelKey) -> str:
        return self.personas.get(key, self.settings.persona)

    def set_persona(self, key: ChannelKey, persona: str | None) -> None:
        """A channel's own persona (None: back to the configured one); bounded LRU."""
        self.personas.pop(key, None)
        if persona is not None:
            self.personas[key] = persona
            while len(self.personas) > self.settings.max_channels:
                self.personas.popitem(last=False)

    def _remember(self, line: ChatLine, text: str) -> None:
        """The bot's own answer joins the channel's window."""
        own = ChatLine(line.platform, line.channel, self.settings.name, text, line.time)
        self.windows.add(own)
        self.history.add(own)

    def _notice(self, line: ChatLine, text: str) -> Reply:
        return Reply(line, ReplyKind.NOTICE, text)


class _Slot:
    """One entry in a channel queue, released exactly once."""

    def __init__(self, queues: ChannelQueues, key: Hashable) -> None:
        self._queues = queues
        self._key = key
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._queues.leave(self._key)
