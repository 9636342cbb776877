"""Showing a core Reply in a Discord channel: the first text is sent as soon as there is
some, then the message is edited as tokens arrive (paced), and finished with the final
text split at 2,000 characters. Media goes up as a file with its caption."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import discord

from literai_core.chat import Reply

from .pacing import Pacer
from .split import split_message

LIMIT = 2000


async def post_reply(
    channel: Any,
    reply: Reply,
    pacer: Pacer,
    *,
    edit_interval_s: float = 1.0,
    reference: discord.Message | None = None,
    clock: Callable[[], float] = time.monotonic,
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

    message: discord.Message | None = None
    shown = ""
    text = ""
    last_edit = 0.0
    async for delta in reply.deltas():
        text += delta
        preview = text.strip()[: LIMIT - 2]
        if not preview:
            continue
        if message is None:
            async with pacer.slot():
                message = await channel.send(
                    content=preview + " …", reference=reference, allowed_mentions=mention
                )
            sent.append(message)
            shown, last_edit = preview, clock()
        elif preview != shown and clock() - last_edit >= edit_interval_s:
            held = pacer.try_slot()
            if held is None:
                continue  # at the limit: this edit is skipped, a later one shows more
            async with held:
                message = await message.edit(content=preview + " …")
            shown, last_edit = preview, clock()
    parts = split_message(await reply.text(), LIMIT) or ["…"]
    async with pacer.slot():
        if message is None:
            message = await channel.send(
                content=parts[0], reference=reference, allowed_mentions=mention
            )
            sent.append(message)
        else:
            await message.edit(content=parts[0])
    for part in parts[1:]:
        async with pacer.slot():
            sent.append(await channel.send(content=part, allowed_mentions=mention))
    return sent
