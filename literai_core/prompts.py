"""Prompt building. Chat text is data: it only ever lands inside these strings."""

from __future__ import annotations

from .chat import ChatLine


def transcript(lines: list[ChatLine]) -> str:
    return "\n".join(f"{line.user}: {line.text}" for line in lines)


def gpt2_prompt(window: list[ChatLine], user: str, text: str) -> str:
    """The original bot's prompt: recent chat as a raw transcript, then the new line."""
    head = transcript(window)
    tail = f"{user}: {text}" if text else ""
    if head and tail:
        return f"{head}\n{tail}"
    return head + ("\n" if head else "") + tail


def ask_messages(
    persona: str, window: list[ChatLine], user: str, question: str
) -> list[dict[str, str]]:
    context = transcript(window)
    ask = f"{user} asks: {question}"
    content = f"Recent chat:\n{context}\n\n{ask}" if context else ask
    return [{"role": "system", "content": persona}, {"role": "user", "content": content}]
