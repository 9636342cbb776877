"""Answers that arrive while another is still being posted in the same channel, shown
together: one message whose parts each name their asker (``**ana**: …``, no pings),
edited as the answers grow and finished when all are done.

Discord allows 5 sends and edits per channel per 5 s. Posted one by one, each answer
costs a send, a few edits and a final edit, so in a busy channel the twentieth asker
waited 15 s for a first word (bench/discord_burst.py). A digest costs the same few
actions for up to ``MAX_ENTRIES`` answers: it is sent when one of them has text (with
every part that has text by the time the channel's turn comes), edited when the budget
allows, and finished with one edit (more messages only if the parts outgrow 2,000
characters, split between parts).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord

from literai_core.chat import Reply

from ..pacing import Pacer
from ..split import split_message
from .post import LIMIT, NO_PINGS

log = logging.getLogger(__name__)

# One message for a whole burst: each digest costs its own send and edits from the
# channel's 5 per 5 s, so three digests of 8 in a burst of 20 (bench/discord_burst.py)
# left later askers waiting on the others' edits. A busy channel's answers are one
# sentence each (bot.ask.busy_sentences), about 100 characters with the name.
MAX_ENTRIES = 20  # answers in one digest
OPEN_CHARS = LIMIT * 3 // 4  # a digest whose text is this long takes no more answers


class _Entry:
    def __init__(self, name: str, reply: Reply) -> None:
        self.name = discord.utils.escape_markdown(discord.utils.escape_mentions(name))[:64]
        self.reply = reply
        self.text = ""
        self.done = False
        self.shown = asyncio.Event()  # its final text is on screen (or the digest failed)

    def line(self) -> str:
        text = " ".join(self.text.split())
        return f"**{self.name}**: {text}{'' if self.done else ' …'}"


class Digest:
    """One channel's shared message for answers that wait on its budget."""

    def __init__(self, channel: Any, pacer: Pacer, edit_interval_s: float) -> None:
        self.channel, self.pacer, self.edit_interval_s = channel, pacer, edit_interval_s
        self.entries: list[_Entry] = []
        self.closed = False
        self._changed = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None

    def has_room(self) -> bool:
        return (
            not self.closed and len(self.entries) < MAX_ENTRIES and len(self.render()) < OPEN_CHARS
        )

    def render(self) -> str:
        return "\n".join(e.line() for e in self.entries if e.text or e.done)

    async def join(self, name: str, reply: Reply) -> None:
        """Show ``reply`` as one part of this digest; returns once its final text is
        shown (or the digest could not be posted, which is logged)."""
        entry = _Entry(name, reply)
        self.entries.append(entry)
        reader = asyncio.ensure_future(self._read(entry))
        if self._runner is None:
            self._runner = asyncio.ensure_future(self._run())
        try:
            await entry.shown.wait()
        finally:
            reader.cancel()

    async def _read(self, entry: _Entry) -> None:
        try:
            async for delta in entry.reply.deltas():
                entry.text += delta
                self._changed.set()
            entry.text = await entry.reply.text()
        except Exception:  # the core says failures politely; this is a bug
            log.exception("discord: an answer in a digest failed")
        entry.done = True
        self._changed.set()

    def _all_done(self) -> bool:
        return all(e.done for e in self.entries)

    async def _run(self) -> None:
        message: discord.Message | None = None
        try:
            while not self.render():  # nothing to show yet
                await self._changed.wait()
                self._changed.clear()
            async with self.pacer.slot():  # the channel's turn; by then more has text
                shown = self.render()
                message = await self.channel.send(content=shown[:LIMIT], allowed_mentions=NO_PINGS)
            while not self._all_done():
                await asyncio.sleep(self.edit_interval_s)
                if self._all_done() or self.render() == shown:
                    continue
                held = self.pacer.try_slot()
                if held is not None:  # optional: a later edit shows more
                    async with held:
                        shown = self.render()
                        message = await message.edit(content=shown[:LIMIT])
            self.closed = True  # all done: nothing joins a digest being finished
            await self._finish(message, shown)
        except discord.HTTPException as exc:
            log.warning("discord: could not post answers together: %s", exc)
        finally:
            self.closed = True
            for entry in self.entries:
                entry.shown.set()

    async def _finish(self, message: discord.Message, shown: str) -> None:
        """The final parts: the message edited to the first chunk (if it changed), the
        rest sent, chunks split between parts within 2,000 characters."""
        chunks: list[str] = []
        for entry in self.entries:
            for piece in split_message(entry.line(), LIMIT):
                if chunks and len(chunks[-1]) + 1 + len(piece) <= LIMIT:
                    chunks[-1] += "\n" + piece
                else:
                    chunks.append(piece)
        if chunks and chunks[0] != shown:
            async with self.pacer.slot():
                await message.edit(content=chunks[0])
        for chunk in chunks[1:]:
            async with self.pacer.slot():
                await self.channel.send(content=chunk, allowed_mentions=NO_PINGS)
