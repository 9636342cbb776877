"""Helpers for driving the chat core directly: settings with small limits, chat lines,
reading replies as an adapter does, and a stand-in adapter that collects what the core
posts unasked. Time is always a parameter (``ChatLine.time``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from literai_core.chat import ChannelKey, ChatLine, Reply, ReplyKind
from literai_core.core import ChatCore
from literai_core.router import Component
from literai_core.settings import AskSettings, BotSettings, GenerationSettings
from literai_core.window import RollingWindows

from .scripted import ScriptedInference

PERSONA = "You are testbot, terse and kind."
GPT2_GEN = GenerationSettings(max_tokens=33, temperature=0.5, top_p=0.9, frequency_penalty=0.1)
# The layout with names in the user message: the tests read the prompt's lines by name.
ASK_GEN = AskSettings(
    max_tokens=77,
    temperature=0.2,
    top_p=0.8,
    frequency_penalty=0.0,
    window_in="user",
    names=True,
    retries=1,
)
MAIN = ChannelKey("twitch", "#main")


def bot_settings(**overrides: Any) -> BotSettings:
    values: dict[str, Any] = {
        "name": "literai",
        "prefix": "!",
        "persona": PERSONA,
        "window_lines": 5,
        "window_chars": 2000,
        "max_channels": 100,
        "max_reply_chars": 200,
        "max_prompt_chars": 100,
        "user_cooldown_s": 10,
        "channel_cooldown_s": 0,
        "channel_queue": 3,
        "answer_unknown_commands": True,
        # Tests of other behaviours send many commands from one user and repeat
        # notices: the per-user rate and the collapsing of notices have their own tests.
        "user_commands": 1000,
        "repeat_notice_s": 0,
        "gpt2": GPT2_GEN,
        "ask": ASK_GEN,
    }
    values.update(overrides)
    return BotSettings(**values)


def make_core(
    inference: ScriptedInference,
    *,
    components: list[Component] | None = None,
    observers: list[Callable[[Reply], None]] | None = None,
    **overrides: Any,
) -> ChatCore:
    return ChatCore(bot_settings(**overrides), inference, components, observers=observers or [])


def component_of(core: ChatCore, command_name: str) -> Any:
    """The component object that registered ``command_name``."""
    cmd = core.router.get(command_name)
    assert cmd is not None
    return cmd.handler.__self__  # type: ignore[attr-defined]


def line(
    text: str,
    *,
    user: str = "alice",
    time: float = 0.0,
    channel: str = "#main",
    platform: str = "twitch",
) -> ChatLine:
    return ChatLine(platform, channel, user, text, time)


def mod_line(text: str, time: float = 0.0, roles: tuple[str, ...] = ("moderator",)) -> ChatLine:
    return ChatLine("twitch", "#main", "mod", text, time, frozenset(roles))


async def consume(reply: Reply | None) -> tuple[list[str], str]:
    """Read a reply the way a streaming adapter does: deltas, then the final text."""
    assert reply is not None
    deltas = [piece async for piece in reply.deltas()]
    return deltas, await reply.text()


async def text_of(reply: Reply | None) -> str:
    assert reply is not None
    return await reply.text()


def window_texts(core_or_windows: ChatCore | RollingWindows, key: ChannelKey) -> list[str]:
    windows = core_or_windows.windows if isinstance(core_or_windows, ChatCore) else core_or_windows
    return [f"{ln.user}: {ln.text}" for ln in windows.lines(key)]


class Poster:
    """A stand-in twitch adapter: what the core posts unasked, as (kind, channel, text)."""

    platform = "twitch"

    def __init__(self) -> None:
        self.posted: list[tuple[ReplyKind, str, str]] = []

    def components(self) -> list[Component]:
        return []

    async def announce(self, reply: Reply) -> None:
        self.posted.append((reply.kind, reply.line.channel, await reply.text()))


def announced(core: ChatCore) -> list[tuple[ReplyKind, str, str]]:
    """Capture what the core posts unasked on twitch: (kind, channel, text)."""
    poster = Poster()
    core.attach(poster)
    return poster.posted
