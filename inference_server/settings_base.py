"""What every settings module of the server shares: the one-line config error, secrets
from the environment, and the section base (unknown keys are errors)."""

from __future__ import annotations

import os
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class ConfigError(Exception):
    """A bad deployment config, said in one line: ``config error[ in SOURCE]: KEY: REASON``.

    Every package raises this one type (the chat core has no config of its own to check
    beyond pydantic), so the CLI prints it the same way wherever it came from.
    """

    def __init__(self, key: str, reason: str, *, source: str | None = None) -> None:
        self.key = key
        self.reason = reason
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"config error in {self.source}" if self.source else "config error"
        return f"{where}: {self.key}: {self.reason}" if self.key else f"{where}: {self.reason}"


def env_secret(name: str) -> str | None:
    """A secret from the environment; empty counts as unset. Never log the value."""
    value = os.environ.get(name, "")
    return value or None


class Section(BaseModel):
    """A settings section: unknown keys are errors (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Threads = Annotated[int, Field(ge=1, le=256)]
