"""Splitting long replies for a platform's message limit (Discord 2,000 characters,
Twitch 500): at paragraph, line,
sentence or word boundaries, never inside a word, and never across a code fence without
closing it and opening it again."""

from __future__ import annotations

import re

FENCE = re.compile(r"^```(\w*)", re.M)


def _open_fence(text: str) -> str | None:
    """The language tag of a code fence left open at the end of ``text``, or None."""
    fences = FENCE.findall(text)
    return fences[-1] if len(fences) % 2 == 1 else None


def _cut(text: str, limit: int) -> int:
    """Where to end the first piece: the last good boundary within ``limit``."""
    window = text[:limit]
    outside = [i for i in (window.rfind("\n\n"), window.rfind("\n")) if i > 0]
    for i in outside:
        if _open_fence(text[:i]) is None:  # prefer cuts outside code blocks
            return i
    for sep in ("\n", ". ", "! ", "? ", " "):
        i = window.rfind(sep)
        if i > limit // 4:
            return i + (1 if sep != "\n" else 0)
    return limit  # one unbroken "word" longer than a message


def split_message(text: str, limit: int = 2000) -> list[str]:
    text = text.strip()
    if not text:
        return []
    parts: list[str] = []
    carry = ""  # a fence reopened at the start of the next piece
    while text:
        text = carry + text
        room = limit - 4  # space to close a fence ("\n```")
        if len(text) <= limit:
            parts.append(text)
            break
        cut = _cut(text, room)
        piece, text = text[:cut].rstrip(), text[cut:].lstrip("\n ")
        lang = _open_fence(piece)
        if lang is not None:
            piece += "\n```"
            carry = f"```{lang}\n"
        else:
            carry = ""
        parts.append(piece)
    return parts


def split_bytes(text: str, max_bytes: int) -> list[str]:
    """Split one line of text into pieces of at most ``max_bytes`` bytes of UTF-8 (IRC
    counts bytes, and a CJK character is three), at word boundaries where there are
    any, never inside a character."""
    text = " ".join(text.split())
    parts: list[str] = []
    while text:
        if len(text.encode()) <= max_bytes:
            parts.append(text)
            break
        fits, size = 0, 0  # the longest prefix of whole characters within the budget
        for ch in text:
            size += len(ch.encode())
            if size > max_bytes:
                break
            fits += 1
        space = text.rfind(" ", 0, fits + 1)
        cut = space if space > fits // 4 else max(fits, 1)
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return parts


# Twitch treats a message that starts with "/" or "." as a chat command (/me, .ban).
_COMMAND_START = ("/", ".")


def not_a_command(part: str) -> str:
    """``part`` made safe to send as a message: one that would start with a chat
    command character gets a zero-width space in front, so it is shown, not run."""
    return "\u200b" + part if part.lstrip().startswith(_COMMAND_START) else part
