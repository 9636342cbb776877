"""What a command may use of the chat core: a small protocol, so commands never see all
of ``ChatCore`` and the core and the command modules do not import each other.

Collaborators that only one family needs (the story store, the episode folder, the
config reloader) go into that family's constructor instead (``commands.default_components``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from .chat import ChannelKey, ChatLine, Reply
from .inference import Inference
from .settings import BotSettings

if TYPE_CHECKING:
    from .filter import ContentFilter
    from .limits import ChannelQueues
    from .memory import Memory
    from .router import Command


class Host(Protocol):
    """The core as commands see it. ``settings`` may change between calls (``!reload``):
    read it when needed, never keep it."""

    @property
    def settings(self) -> BotSettings: ...

    @property
    def inference(self) -> Inference: ...

    @property
    def prefix(self) -> str: ...

    # The content filter (None when off): a channel's own words live in it (!filter).
    filter: ContentFilter | None
    # The regulars' long-term memory (None when off): !ask recalls, !forget deletes.
    memory: Memory | None
    # Model commands pending per channel (a busy channel gets shorter answers).
    queues: ChannelQueues

    def commands(self, platform: str) -> list[Command]:
        """Every command that exists on ``platform``, by name."""
        ...

    def command(self, name: str, platform: str) -> Command | None: ...

    def usage(self, cmd: Command) -> str:
        """The usage line with the configured prefix."""
        ...

    def window(self, key: ChannelKey) -> list[ChatLine]:
        """The recent lines the prompts are built from (the bot's own included)."""
        ...

    def history(self, key: ChannelKey) -> list[ChatLine]:
        """The longer history summaries are made from."""
        ...

    def forget(self, key: ChannelKey) -> None:
        """Drop the channel's window and history."""
        ...

    def persona(self, scope: ChannelKey) -> str: ...

    def set_persona(self, scope: ChannelKey, persona: str | None) -> None: ...

    def model(self, scope: ChannelKey) -> str | None:
        """The model alias !ask and !gpt2 use here (None: the client's default)."""
        ...

    def set_model(self, scope: ChannelKey, model: str | None) -> None: ...

    def paused(self, scope: ChannelKey) -> bool: ...

    def pause(self, scope: ChannelKey, paused: bool) -> None: ...

    def is_mod(self, line: ChatLine) -> bool: ...

    def spawn(self, job: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run ``job`` beside the chat until it ends or the core closes."""
        ...

    async def announce(self, reply: Reply) -> bool:
        """Post ``reply`` to its line's channel unasked; False where nobody can."""
        ...
