"""Trim model output for chat: whole sentences, within a length."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"[.!?…](?:[\"')\]]*)(?=\s|$)")


def trim_reply(text: str, max_chars: int, *, cut_off: bool = False) -> str:
    """Collapse whitespace, then cut at the last sentence end within ``max_chars``.

    With no sentence end in range, cut at the last word boundary and add an ellipsis.
    ``cut_off``: the text was stopped mid-flow (the model hit its token limit), so a
    trailing partial sentence is dropped even when the text is short enough.
    """
    text = " ".join(text.split())
    if len(text) <= max_chars and not cut_off:
        return text
    if len(text) <= max_chars:
        ends = [m.end() for m in _SENTENCE_END.finditer(text)]
        return text[: ends[-1]] if ends and ends[-1] >= len(text) // 3 else text
    head = text[:max_chars]
    # Match on the whole text: a "3." cut from "3.14" is not a sentence end.
    ends = [m.end() for m in _SENTENCE_END.finditer(text) if m.end() <= max_chars]
    if ends and ends[-1] >= max_chars // 3:
        return head[: ends[-1]]
    cut = head[: max_chars - 1].rsplit(" ", 1)[0].rstrip(",;:-")
    return (cut or head[: max_chars - 1]) + "…"
