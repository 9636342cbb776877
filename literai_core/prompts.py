"""Prompt building. Chat text is data: it only ever lands inside these strings."""

from __future__ import annotations

import re

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


def transcript(lines: list[ChatLine]) -> str:
    return "\n".join(f"{data(line.user)}: {data(line.text)}" for line in lines)


def gpt2_prompt(window: list[ChatLine], user: str, text: str) -> str:
    """The original bot's prompt: recent chat as a raw transcript, then the new line."""
    head = transcript(window)
    tail = f"{data(user)}: {data(text)}" if text else ""
    if head and tail:
        return f"{head}\n{tail}"
    return head + ("\n" if head else "") + tail


def ask_messages(
    persona: str, window: list[ChatLine], user: str, question: str
) -> list[dict[str, str]]:
    context = transcript(window)
    ask = f"{data(user)} asks: {data(question)}"
    content = f"Recent chat:\n{context}\n\n{ask}" if context else ask
    return [{"role": "system", "content": data(persona)}, {"role": "user", "content": content}]
