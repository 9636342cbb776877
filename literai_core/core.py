"""The chat core: a ChatLine in, a Reply (or nothing) out. Platform adapters call
``handle`` and show the reply their own way."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any, Protocol

from . import filter as content
from .chat import ChannelKey, ChatLine, Reply, ReplyKind
from .gate import GO, Gate, Go
from .inference import Inference
from .limits import Slot, set_bounded
from .memory import Memory
from .router import Command, CommandRouter, Component, Context
from .settings import BotSettings
from .window import RollingWindows

log = logging.getLogger(__name__)

Observer = Callable[[Reply], None]


class Adapter(Protocol):
    """A platform adapter as the core knows it: what it adds to the commands, and how it
    posts to one of its channels when nobody asked just now (a podcast, a recap)."""

    platform: str

    def components(self) -> Sequence[Component]: ...

    async def announce(self, reply: Reply) -> None: ...


class ChatCore:
    """The core, built whole: its settings, the inference port, the command families
    (``commands.default_components``) and the observers that see every answer (the
    overlay). Adapters ``attach`` themselves; commands see it as a ``Host``."""

    def __init__(
        self,
        settings: BotSettings,
        inference: Inference,
        components: Sequence[Component] | None = None,
        *,
        observers: Sequence[Observer] = (),
        memory: Memory | None = None,
    ) -> None:
        self._settings = settings
        self.memory = memory  # the regulars' long-term memory (None: off)
        self._inference = inference
        self.router = CommandRouter(settings.prefix)
        self.windows = RollingWindows(
            settings.window_lines, settings.window_chars, settings.max_channels
        )
        # A longer memory of each channel, for !summary only (never a prompt as is).
        self._history = RollingWindows(
            settings.summary.history_lines, settings.summary.history_chars, settings.max_channels
        )
        self.gate = Gate(settings)
        self.queues = self.gate.queues
        self.personas: OrderedDict[ChannelKey, str] = OrderedDict()  # set by moderators
        self.models: OrderedDict[ChannelKey, str] = OrderedDict()  # set by moderators
        self._paused: set[ChannelKey] = set()
        self.filter = content.build_filter(settings.filter, settings.max_channels)
        self._observers = list(observers)
        self._adapters: dict[str, Adapter] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        if components is None:
            from .commands import default_components  # the standard set

            components = default_components()
        for component in components:
            self.router.add_component(component)

    def attach(self, adapter: Adapter) -> None:
        """An adapter joins: its own commands (Discord's voice commands) are added and
        announcements on its platform go through it. Before the adapter reads the
        command list (slash commands)."""
        if adapter.platform in self._adapters:
            raise ValueError(f"an adapter for {adapter.platform} is attached already")
        for component in adapter.components():
            self.router.add_component(component)
        self._adapters[adapter.platform] = adapter

    # -- Host: what commands see ---------------------------------------------------

    @property
    def settings(self) -> BotSettings:
        return self._settings

    @property
    def inference(self) -> Inference:
        return self._inference

    @property
    def prefix(self) -> str:
        return self.router.prefix

    def commands(self, platform: str) -> list[Command]:
        return self.router.all(platform)

    def command(self, name: str, platform: str) -> Command | None:
        return self.router.get(name, platform)

    def usage(self, cmd: Command) -> str:
        return self.router.usage(cmd)

    def window(self, key: ChannelKey) -> list[ChatLine]:
        return self.windows.lines(key)

    def history(self, key: ChannelKey) -> list[ChatLine]:
        return self._history.lines(key)

    def forget(self, key: ChannelKey) -> None:
        self.windows.clear(key)
        self._history.clear(key)

    def paused(self, scope: ChannelKey) -> bool:
        return scope in self._paused

    def pause(self, scope: ChannelKey, paused: bool) -> None:
        if paused:
            self._paused.add(scope)
        else:
            self._paused.discard(scope)

    async def handle(
        self, line: ChatLine, *, shown: asyncio.Future[Any] | None = None
    ) -> Reply | None:
        """Decide what to do with one chat line. Time comes from ``line.time``.
        ``shown``: observers (the overlay) see the reply once it is done, never if it is
        cancelled (the voice page's answer begun before the end of speech)."""
        parsed = self.router.parse(line.text)
        if parsed is None:
            self.windows.add(line)
            self._history.add(line)
            if self.memory is not None:
                self.memory.hear(line, self.filter)
            return None
        name, args = parsed
        limited = self.gate.rate(line)
        if not isinstance(limited, Go):
            return limited
        reply = await self._command(line, name, args, shown)
        return await self.gate.once(line, reply)

    async def _command(
        self, line: ChatLine, name: str, args: str, shown: asyncio.Future[Any] | None = None
    ) -> Reply | None:
        cmd = self.router.get(name, line.platform)
        if cmd is None:
            return self._unknown(line, name)
        stopped = self._check(line, cmd, args)
        if not isinstance(stopped, Go):
            return stopped
        ctx = Context(line, args, self)
        if not cmd.uses_model:
            return await cmd.handler(ctx)
        refused = self.gate.admit(line)
        if not isinstance(refused, Go):
            return refused
        return await self._run(cmd, ctx, shown)

    def _unknown(self, line: ChatLine, name: str) -> Reply | None:
        if not self.settings.answer_unknown_commands:
            return None
        user_key = (line.platform, line.channel, line.user)
        quiet = self.settings.user_cooldown_s
        if not self.gate.notices.allow(("unknown", *user_key), line.time, quiet):
            return None
        p = self.prefix
        return self._notice(line, f"Unknown command {p}{name[:32]}. Try {p}help.")

    def _check(self, line: ChatLine, cmd: Command, args: str) -> Reply | Go | None:
        """Whether this line may run ``cmd`` at all: ``GO``, or what to answer instead
        (None: nothing)."""
        if cmd.mod_only and not self.is_mod(line):
            return self._notice(line, f"Only moderators can use {self.prefix}{cmd.name}.")
        if self.paused(line.scope_key) and cmd.uses_model:
            return None  # paused by a moderator: model commands are ignored quietly
        if cmd.requires_args and not args:
            return self._notice(line, f"Usage: {self.router.usage(cmd)}")
        limit = self.settings.max_prompt_chars
        if len(args) > limit:
            too_long = f"That's too long for me ({len(args)} characters; the limit is {limit})."
            return self._notice(line, too_long)
        # Moderators' commands are exempt: !filter add must name the word.
        if self.filter and args and not cmd.mod_only:
            if content.refused(self.filter, args, line.scope_key):
                return self._notice(line, "I can't use that: it has a word blocked here.")
        return GO

    async def _run(
        self, cmd: Command, ctx: Context, shown: asyncio.Future[Any] | None = None
    ) -> Reply | None:
        """Run an admitted model command; its channel slot is freed when its reply is
        done (or dropped unread)."""
        line = ctx.line
        try:
            reply = await cmd.handler(ctx)
        except Exception:
            self.queues.leave(line.key)
            log.exception("command %s failed", cmd.name)
            return Reply(line, ReplyKind.ERROR, "Sorry, something went wrong on my side.")
        if reply is None or not reply.streaming:
            # Finished already (a notice, a media reply): the slot is free now, and
            # adapters see the reply whole, media included.
            self.queues.leave(line.key)
            if reply is not None and reply.kind in (ReplyKind.ANSWER, ReplyKind.MEDIA):
                self._screen(reply)
            if reply is not None and reply.kind is ReplyKind.ANSWER:
                self._remember(line, await reply.text())
            if reply is not None and reply.kind in (ReplyKind.ANSWER, ReplyKind.MEDIA):
                self._observe(reply, shown)
            return reply
        # The slot is freed when the reply has been read, or when an adapter drops the
        # reply unread (finalizer), so a lost reply can never lock its channel.
        slot = Slot(self.queues, line.key)
        outer = Reply.from_stream(line, lambda outer: self._relay(outer, reply, slot))
        weakref.finalize(outer, slot.release)
        self._observe(outer, shown)
        return outer

    async def _relay(self, outer: Reply, inner: Reply, slot: Slot) -> AsyncIterator[str]:
        """Pass a model reply through; when it ends, free the channel slot and remember
        the bot's own line in the window."""
        line = inner.line
        try:
            async for piece in content.screened(inner.deltas(), self.filter, line.scope_key):
                yield piece
            text = await inner.text()
            if self.filter and inner.kind in (ReplyKind.ANSWER, ReplyKind.MEDIA):
                text = content.final(self.filter, text, line.scope_key)
        except Exception:  # a bug or an unexpected client error: still a polite line
            log.exception("reply to %r failed", line.text[:40])
            outer.finish("Sorry, something went wrong on my side.", ReplyKind.ERROR)
            return
        finally:
            slot.release()
        outer.finish(text, inner.kind, inner.media)
        if inner.kind is ReplyKind.ANSWER:
            self._remember(line, text)

    def _screen(self, reply: Reply) -> None:
        """A finished reply's text through the filter (streams: ``_relay``)."""
        if self.filter is not None and not reply.streaming:
            reply.finish(content.final(self.filter, reply.final_text, reply.line.scope_key))

    def _observe(self, reply: Reply, shown: asyncio.Future[Any] | None = None) -> None:
        if shown is not None and not shown.done():
            shown.add_done_callback(lambda f: None if f.cancelled() else self._observe(reply))
            return
        if shown is not None and shown.cancelled():
            return
        for observe in self._observers:
            try:
                observe(reply)
            except Exception:  # an overlay bug must not cost the chat its answer
                log.exception("a reply observer failed")

    async def announce(self, reply: Reply) -> bool:
        """Post ``reply`` to its line's channel unasked; False where no adapter of that
        platform is running. Observers (the overlay) see it too."""
        adapter = self._adapters.get(reply.line.platform)
        if adapter is None:
            return False
        if reply.kind in (ReplyKind.ANSWER, ReplyKind.MEDIA):
            self._screen(reply)
            self._observe(reply)
        try:
            await adapter.announce(reply)
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
        self._settings = settings
        self.filter = content.build_filter(settings.filter, settings.max_channels, self.filter)
        self.router.prefix = settings.prefix
        self.windows.max_lines = settings.window_lines
        self.windows.max_chars = settings.window_chars
        self.windows.max_channels = settings.max_channels
        self._history.max_lines = settings.summary.history_lines
        self._history.max_chars = settings.summary.history_chars
        self._history.max_channels = settings.max_channels
        self.gate.reconfigure(settings)
        if self.memory is not None:
            self.memory.settings = settings.memory

    def is_mod(self, line: ChatLine) -> bool:
        return bool(line.roles & set(self.settings.mod_roles))

    def persona(self, key: ChannelKey) -> str:
        return self.personas.get(key, self.settings.persona)

    def set_persona(self, key: ChannelKey, persona: str | None) -> None:
        """A channel's own persona (None: back to the configured one)."""
        set_bounded(self.personas, key, persona, self.settings.max_channels)

    def model(self, key: ChannelKey) -> str | None:
        """The channel's model alias: a moderator's choice, else the config's."""
        chosen = self.models.get(key)
        if chosen is not None:
            return chosen
        configured = self.settings.channel_models
        return configured.get(f"{key.platform}:{key.channel}") or configured.get(key.channel)

    def set_model(self, key: ChannelKey, model: str | None) -> None:
        """A channel's own model (None: back to the configured one)."""
        set_bounded(self.models, key, model, self.settings.max_channels)

    def _remember(self, line: ChatLine, text: str) -> None:
        """The bot's own answer joins the channel's window."""
        own = ChatLine(line.platform, line.channel, self.settings.name, text, line.time, own=True)
        self.windows.add(own)
        self._history.add(own)

    def _notice(self, line: ChatLine, text: str) -> Reply:
        return Reply(line, ReplyKind.NOTICE, text)
