"""Showing a core Reply in a Discord channel: the first text is sent as soon as there is
some, then the message is edited as tokens arrive (paced), and finished with the final
text split at 2,000 characters. Media goes up as a file with its caption."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

import discord

from literai_core.chat import Media, Reply

from ..pacing import Pacer
from ..split import split_message

log = logging.getLogger(__name__)
LIMIT = 2000
MAX_UPLOAD = 10 * 2**20  # Discord's limit for a server without boosts
NO_PINGS = discord.AllowedMentions.none()  # model text never pings anyone


async def fit_upload(media: Media, limit: int) -> tuple[bytes, str] | None:
    """The file as it can go up: as is when it fits; long audio (a podcast episode in
    WAV) re-encoded to Ogg Opus by ffmpeg (bytes through pipes, no file names); None
    when it still does not fit."""
    if len(media.data) <= limit:
        return media.data, media.ext
    if not media.mime.startswith("audio/"):
        return None
    try:
        proc = await asyncio.create_subprocess_exec(
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-i", "pipe:0",
            "-c:a", "libopus", "-b:a", "48k", "-f", "ogg", "pipe:1",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate(media.data)
    except OSError as exc:
        log.warning("discord: cannot re-encode a large audio file: %s", exc)
        return None
    if proc.returncode != 0 or not out:
        log.warning("discord: ffmpeg could not re-encode audio: %s", err.decode()[-200:])
        return None
    return (out, "ogg") if len(out) <= limit else None


async def post_reply(
    channel: Any,
    reply: Reply,
    pacer: Pacer,
    *,
    edit_interval_s: float = 1.0,
    reference: discord.Message | None = None,
    max_upload_bytes: int = MAX_UPLOAD,
) -> list[discord.Message]:
    """Post ``reply`` to ``channel``; returns the messages it sent."""
    if reply.media is not None:
        return await post_media(channel, reply, reply.media, pacer, reference, max_upload_bytes)
    if not reply.streaming:
        return await post_final(channel, await reply.text(), pacer, reference)
    return await post_streaming(channel, reply, pacer, reference, edit_interval_s)


async def post_media(
    channel: Any,
    reply: Reply,
    media: Media,
    pacer: Pacer,
    reference: discord.Message | None,
    max_upload_bytes: int,
) -> list[discord.Message]:
    """A file with its caption; a file too big even re-encoded is said, not sent."""
    caption = (await reply.text())[:LIMIT]
    fitted = await fit_upload(media, max_upload_bytes)
    if fitted is None:
        caption = f"{caption}\n(the file is too big to attach here)"[-LIMIT:]
        async with pacer.slot():
            return [
                await channel.send(content=caption, reference=reference, allowed_mentions=NO_PINGS)
            ]
    data, ext = fitted
    name = "speech" if media.mime.startswith("audio/") else "image"
    if media.link is not None:
        name = "episode"
    file = discord.File(io.BytesIO(data), filename=f"{name}.{ext}", description=media.alt[:1024])
    async with pacer.slot():
        sent = await channel.send(
            content=caption, file=file, reference=reference, allowed_mentions=NO_PINGS
        )
    return [sent]


async def post_final(
    channel: Any, text: str, pacer: Pacer, reference: discord.Message | None
) -> list[discord.Message]:
    """Finished text: one send per part, no edits; the first part replies."""
    sent = []
    for part in split_message(text, LIMIT):
        async with pacer.slot():
            sent.append(
                await channel.send(content=part, reference=reference, allowed_mentions=NO_PINGS)
            )
        reference = None
    return sent


async def post_streaming(
    channel: Any,
    reply: Reply,
    pacer: Pacer,
    reference: discord.Message | None,
    edit_interval_s: float,
) -> list[discord.Message]:
    """Text still coming: a preview sent as soon as there is some, edited as it grows
    (paced, at most once per ``edit_interval_s``), then finished with the final parts.

    The model's text is read on its own task, so a reply whose turn to post comes late
    (the channel at its limit) goes up once, finished, instead of as a stale preview
    plus edits."""
    text: list[str] = []
    changed = asyncio.Event()

    async def read() -> None:
        async for delta in reply.deltas():
            text.append(delta)
            changed.set()

    reader = asyncio.ensure_future(read())
    reader.add_done_callback(lambda _: changed.set())
    try:
        message = await _previews(channel, text, changed, reader, pacer, reference, edit_interval_s)
        await reader  # re-raise a failure of the reply itself
    finally:
        if not reader.done():
            reader.cancel()
    return await _finish(channel, await reply.text(), message, pacer, reference)


async def _previews(
    channel: Any,
    text: list[str],
    changed: asyncio.Event,
    reader: asyncio.Future[None],
    pacer: Pacer,
    reference: discord.Message | None,
    edit_interval_s: float,
) -> discord.Message | None:
    """Show the growing text until the reader is done; the preview message, if any."""
    message: discord.Message | None = None
    shown = ""
    while not reader.done():
        await changed.wait()
        changed.clear()
        preview = "".join(text).strip()[: LIMIT - 2]
        if reader.done() or not preview or preview == shown:
            continue
        if message is None:
            async with pacer.slot():
                if reader.done():
                    break  # finished while waiting for the slot: sent whole at the end
                preview = "".join(text).strip()[: LIMIT - 2]
                message = await channel.send(
                    content=preview + " …", reference=reference, allowed_mentions=NO_PINGS
                )
            shown = preview
        else:
            held = pacer.try_slot()
            if held is None:
                continue  # at the limit: skip this edit, a later one shows more
            async with held:
                message = await message.edit(content=preview + " …")
            shown = preview
        # At most one edit per interval; text keeps arriving meanwhile.
        await asyncio.wait({reader}, timeout=edit_interval_s)
    return message


async def _finish(
    channel: Any,
    final: str,
    message: discord.Message | None,
    pacer: Pacer,
    reference: discord.Message | None,
) -> list[discord.Message]:
    """The final text: the preview edited to its first part (or sent, if there was no
    preview), then the other parts."""
    sent = [] if message is None else [message]
    parts = split_message(final, LIMIT) or ["…"]
    async with pacer.slot():
        if message is None:
            message = await channel.send(
                content=parts[0], reference=reference, allowed_mentions=NO_PINGS
            )
            sent.append(message)
        else:  # always: the preview ended in " …"
            await message.edit(content=parts[0])
    for part in parts[1:]:
        async with pacer.slot():
            sent.append(await channel.send(content=part, allowed_mentions=NO_PINGS))
    return sent
