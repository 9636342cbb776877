"""Prompt building. Chat text is data: it only ever lands inside these strings."""

from __future__ import annotations

import re
from typing import Literal

from .chat import ChatLine

# Chat-template control tokens as text: ChatML's <|im_start|>, Llama's <s> and [INST],
# Gemma's <start_of_turn>, ... A viewer who types one must not open or close a turn of
# the prompt, whatever engine renders it; a zero-width space keeps it readable text.
_CONTROL_TOKEN = re.compile(
    r"<\|[^<>|\s]{1,40}\|>|</?s>|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>",
    re.IGNORECASE,
)


def data(text: str) -> str:
    """Chat text made safe to put inside a prompt: control-token look-alikes defused."""
    return _CONTROL_TOKEN.sub(lambda m: m.group(0)[0] + "\u200b" + m.group(0)[1:], text)


LineStyle = Literal["dash", "plain", "quoted"]
_MARKS: dict[str, tuple[str, str]] = {"dash": ("- ", ""), "plain": ("", ""), "quoted": ('"', '"')}


def transcript(lines: list[ChatLine], *, names: bool = True, style: LineStyle = "dash") -> str:
    """Chat lines, one a line: "name: text", or without names in ``style`` ("- text",
    "text" or '"text"'; a dash reads as a list, which a list-asking prompt continues)."""
    if not names:
        head, tail = _MARKS[style]
        return "\n".join(f"{head}{data(line.text)}{tail}" for line in lines)
    return "\n".join(f"{data(line.user)}: {data(line.text)}" for line in lines)


def gpt2_prompt(window: list[ChatLine], user: str, text: str, bot: str = "literai") -> str:
    """The original bot's prompt: recent chat as a raw transcript, then the new line:
    the viewer's text to continue, or without it the bot's own turn (``bot:``), so the
    model writes the bot's line rather than someone else's."""
    tail = f"{data(user)}: {data(text)}" if text else f"{data(bot)}:"
    return "\n".join([transcript(window), tail]) if window else tail


WindowIn = Literal["system", "user", "none"]
CHAT_HEAD = "Recent chat, for context only (do not repeat it):"
MEMORY_HEAD = "What viewers told you on earlier days, in their own words:"


def ask_messages(
    persona: str,
    window: list[ChatLine],
    user: str,
    question: str,
    *,
    window_in: WindowIn = "user",
    names: bool = True,
    lines: int | None = None,
    hint: str = "",
    style: LineStyle = "dash",
    remembered: list[tuple[str, str]] | None = None,
) -> list[dict[str, str]]:
    """``!ask``'s messages: the persona as the system message, the question as the user
    message, and the last ``lines`` of chat (with or without names) in either of them or
    left out, unnamed lines in ``style`` (``bench/answers.py`` measures which layout
    answers best). ``hint``: the form the asker requested, said plainly after the
    question. ``remembered``: (name, words) the memory recalled, before the chat."""
    recent = window[-lines:] if lines is not None and lines > 0 else window
    shown = window_in != "none" and lines != 0
    context = transcript(recent, names=names, style=style) if shown else ""
    ask = f"{data(user)} asks: {data(question)}" if names else data(question)
    ask = f"{ask}\n\n{hint}" if hint else ask
    system = data(persona)
    if context and window_in == "system":
        system = f"{system}\n\n{CHAT_HEAD}\n{context}"
    elif context:
        ask = f"{CHAT_HEAD}\n{context}\n\n{ask}"
    if remembered:
        said = "\n".join(f"- {data(name)}: {data(words)}" for name, words in remembered)
        ask = f"{MEMORY_HEAD}\n{said}\n\n{ask}"
    return [{"role": "system", "content": system}, {"role": "user", "content": ask}]
