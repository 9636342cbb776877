"""The console bot: chat lines from stdin, replies on stdout.

``--teletype`` prints replies at a fixed number of characters per second, like the
110-baud Teletype the original GPT-2 bot was trained on the manuals of.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TextIO

from literai_core.chat import ChatLine, Media, Reply
from literai_core.core import ChatCore
from literai_core.router import Component

from .config import ConsoleSettings, Environment, LiteraiConfig
from .reload import Reloader
from .stop import Stop


def stdin_lines(fd: int | None = None, max_pending: int = 64) -> AsyncIterator[str]:
    """Lines from a blocking file descriptor (stdin by default), read on a daemon thread
    so the loop never waits and Ctrl-C never hangs on a blocked read. Bounded: the
    reader waits when full.

    The thread reads the descriptor with ``os.read``, not through ``sys.stdin.buffer``:
    a daemon thread blocked inside the buffered reader holds its lock, and Python aborts
    at exit when it cannot take it ("Fatal Python error: _enter_buffered_busy", exit 134
    on Ctrl-C or SIGTERM with a terminal as stdin)."""
    source = fd if fd is not None else sys.stdin.fileno()
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=max_pending)

    def put(item: str | None) -> None:
        asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()

    def reader() -> None:
        pending = b""
        try:
            while chunk := os.read(source, 65536):
                pending += chunk
                *whole, pending = pending.split(b"\n")
                for raw in whole:
                    put(raw.decode("utf-8", errors="replace").rstrip("\r"))
            if pending:
                put(pending.decode("utf-8", errors="replace").rstrip("\r"))
        except Exception:
            pass  # at shutdown, or a closed descriptor: treat as end of input
        finally:
            try:
                asyncio.run_coroutine_threadsafe(queue.put(None), loop)
            except RuntimeError:
                pass

    threading.Thread(target=reader, name="console-stdin", daemon=True).start()

    async def lines() -> AsyncIterator[str]:
        while (line := await queue.get()) is not None:
            yield line

    return lines()


class ConsoleBot:
    platform = "console"

    def __init__(
        self,
        core: ChatCore,
        settings: ConsoleSettings,
        media_dir: Path,
        out: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.core = core
        self.settings = settings
        self.media_dir = media_dir
        self.out = out if out is not None else sys.stdout
        self.clock = clock
        core.attach(self)

    def components(self) -> Sequence[Component]:
        return ()

    async def announce(self, reply: Reply) -> None:
        """A post nobody typed a line for (a finished podcast, a timed recap)."""
        await self._show(reply)

    async def run(self, lines: AsyncIterator[str]) -> None:
        """Answer each line in turn until the input ends (Ctrl-D)."""
        self._print(
            f"{self.core.settings.name} is ready. Type a chat line, or "
            f"{self.core.settings.prefix}help. Ctrl-D quits."
        )
        async for text in lines:
            if not text.strip():
                continue
            line = ChatLine(
                "console",
                self.settings.channel,
                self.settings.user,
                text,
                self.clock(),
                frozenset({"broadcaster"}),
            )
            reply = await self.core.handle(line)
            if reply is not None:
                await self._show(reply)

    async def _show(self, reply: Reply) -> None:
        text = await reply.text()
        if reply.media is not None:
            path = await asyncio.to_thread(self._save, reply.media)
            text = f"{text} [{reply.media.mime} saved to {path}]"
        await self._say(text)

    def _save(self, media: Media) -> Path:
        """Content-addressed: the name comes from the bytes, never from chat text."""
        self.media_dir.mkdir(parents=True, exist_ok=True)
        path = self.media_dir / f"{hashlib.sha256(media.data).hexdigest()[:20]}.{media.ext}"
        if not path.exists():
            tmp = path.with_suffix(".part")
            tmp.write_bytes(media.data)
            tmp.replace(path)
        return path

    async def _say(self, text: str) -> None:
        prefix = f"{self.core.settings.name}: "
        if not self.settings.teletype:
            self._print(prefix + text)
            return
        delay = 1.0 / self.settings.cps
        for ch in prefix + text:
            self.out.write(ch)
            self.out.flush()
            await asyncio.sleep(delay)
        self._print("")

    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


async def launch(
    core: ChatCore, config: LiteraiConfig, env: Environment, stop: Stop, reloader: Reloader
) -> None:
    """Chat on stdin/stdout until the input ends (then the process stops)."""
    bot = ConsoleBot(core, config.console, Path(config.data_dir) / "media")
    await bot.run(stdin_lines())
