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
