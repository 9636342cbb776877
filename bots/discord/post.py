"""Showing a core Reply in a Discord channel: the first text is sent as soon as there is
some, then the message is edited as tokens arrive (paced), and finished with the final
text split at 2,000 characters. Media goes up as a file with its caption."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import discord

from literai_core.chat import Reply

from ..pacing import Pacer
from ..split import split_message

LIMIT = 2000


async def post_reply(
    channel: Any,
    reply: Reply,
    pacer: Pacer,
    *,
    edit_interval_s: float = 1.0,
    reference: discord.Message | None = None,
) -> list[discord.Message]:
    """Post ``reply`` to ``channel``; returns the messages it sent."""
    sent: list[discord.Message] = []
    mention = discord.AllowedMentions.none()  # model text never pings anyone
    if reply.media is not None:
        caption = (await reply.text())[:LIMIT]
        name = "speech" if reply.media.mime.startswith("audio/") else "image"
        file = discord.File(
            io.BytesIO(reply.media.data),
            filename=f"{name}.{reply.media.ext}",
            description=reply.media.alt[:1024],
        )
        async with pacer.slot():
            sent.append(
                await channel.send(
                    content=caption, file=file, reference=reference, allowed_mentions=mention
                )
            )
        return sent

    if not reply.streaming:  # final already: one send per part, no edits
        for part in split_message(await reply.text(), LIMIT):
            async with pacer.slot():
                sent.append(
                    await channel.send(content=part, reference=reference, allowed_mentions=mention)
                )
            reference = None
        return sent

    # The model's text is read on its own task, so a reply whose turn to post comes
    # late (the channel at its limit) goes up once, finished, instead of as a stale
    # preview plus edits.
    text: list[str] = []
    changed = asyncio.Event()

    async def read() -> None:
        async for delta in reply.deltas():
            text.append(delta)
            changed.set()

    reader = asyncio.ensure_future(read())
    reader.add_done_callback(lambda _: changed.set())
    try:
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
                        break  # finished while waiting for the slot: send it whole below
                    preview = "".join(text).strip()[: LIMIT - 2]
                    message = await channel.send(
                        content=preview + " …", reference=reference, allowed_mentions=mention
                    )
                sent.append(message)
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
        await reader  # re-raise a failure of the reply itself
    finally:
        if not reader.done():
            reader.cancel()
    parts = split_message(await reply.text(), LIMIT) or ["…"]
    async with pacer.slot():
        if message is None:
            message = await channel.send(
                content=parts[0], reference=reference, allowed_mentions=mention
            )
            sent.append(message)
        else:  # always: the preview ended in " …"
            await message.edit(content=parts[0])
    for part in parts[1:]:
        async with pacer.slot():
            sent.append(await channel.send(content=part, allowed_mentions=mention))
    return sent
