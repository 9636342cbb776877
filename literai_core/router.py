"""Commands as components: each family is a class whose methods register themselves.

Dispatch is a dictionary lookup of a validated name; chat text never reaches anything
that would run it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .chat import ChatLine, Reply

if TYPE_CHECKING:
    from .host import Host

_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_ARG = re.compile(r"[<\[]\s*([A-Za-z][A-Za-z0-9_]{0,31})")


@dataclass(frozen=True)
class Context:
    """What a command gets: the line that invoked it, its argument text, and the core as
    the small ``Host`` protocol."""

    line: ChatLine
    args: str
    host: Host


Handler = Callable[[Context], Awaitable[Reply | None]]  # None: say nothing


@dataclass(frozen=True)
class Command:
    name: str
    handler: Handler
    usage: str  # first docstring line, e.g. "!ask <question>"
    summary: str  # second docstring paragraph's first line
    requires_args: bool
    uses_model: bool  # model-backed: subject to cooldowns and the channel queue
    mod_only: bool = False  # only lines whose roles include one of bot.mod_roles
    platforms: frozenset[str] | None = None  # None: every platform; else only these
    arg: str = ""  # what the argument is, for slash-command option descriptions

    def on(self, platform: str) -> bool:
        return self.platforms is None or platform in self.platforms

    @property
    def arg_name(self) -> str:
        """The argument's name from the usage line: ``!ask <question>`` -> question."""
        m = _ARG.search(self.usage)
        return m.group(1).lower() if m else ""


def command(
    name: str,
    *,
    requires_args: bool = False,
    uses_model: bool = True,
    mod_only: bool = False,
    platforms: tuple[str, ...] | None = None,
    arg: str = "",
) -> Callable[[Any], Any]:
    """Mark a component method as the command ``name``. Its docstring's first line is
    the usage line viewers see, written with ``!``; ``arg`` describes the argument."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"bad command name {name!r}")
    only = frozenset(platforms) if platforms is not None else None

    def mark(fn: Any) -> Any:
        fn.__literai_command__ = (name, requires_args, uses_model, mod_only, only, arg)
        return fn

    return mark


class Component:
    """A family of commands. Subclasses decorate async methods with ``@command``."""

    def commands(self) -> list[Command]:
        found = []
        for _, method in inspect.getmembers(self, inspect.ismethod):
            spec = getattr(method, "__literai_command__", None)
            if spec is None:
                continue
            name, requires_args, uses_model, mod_only, platforms, arg = spec
            doc = inspect.cleandoc(method.__doc__ or f"!{name}")
            usage, _, rest = doc.partition("\n")
            summary = rest.strip().split("\n", 1)[0] if rest.strip() else ""
            found.append(
                Command(
                    name,
                    method,
                    usage.strip(),
                    summary,
                    requires_args,
                    uses_model,
                    mod_only,
                    platforms,
                    arg,
                )
            )
        return found


class CommandRouter:
    def __init__(self, prefix: str = "!") -> None:
        self.prefix = prefix
        self._commands: dict[str, Command] = {}

    def add_component(self, component: Component) -> None:
        for cmd in component.commands():
            if cmd.name in self._commands:
                raise ValueError(f"command {cmd.name!r} registered twice")
            self._commands[cmd.name] = cmd

    def parse(self, text: str) -> tuple[str, str] | None:
        """``"!Ask  what?"`` -> ``("ask", "what?")``; None when not a command at all."""
        if not text.startswith(self.prefix):
            return None
        body = text[len(self.prefix) :]
        name, _, args = body.partition(" ")
        name = name.lower()
        if not _NAME.fullmatch(name):
            return None  # "! hello", "!!!" or "!" alone is chat, not a command
        return name, args.strip()

    def get(self, name: str, platform: str | None = None) -> Command | None:
        """The command ``name``; with ``platform``, only if it exists there."""
        cmd = self._commands.get(name)
        if cmd is not None and platform is not None and not cmd.on(platform):
            return None
        return cmd

    def all(self, platform: str | None = None) -> list[Command]:
        found = [c for c in self._commands.values() if platform is None or c.on(platform)]
        return sorted(found, key=lambda c: c.name)

    def usage(self, cmd: Command) -> str:
        """The usage line with the configured prefix in place of ``!``."""
        return cmd.usage.replace("!", self.prefix, 1) if cmd.usage.startswith("!") else cmd.usage
