"""A podcast section's dialogue, one host's line per model call.

A 135M model asked for "four lines, Ada first" in one call mostly writes one host
(literAI's two hosts became one monologue that looped). Here each line is its own call,
the speaker fixed by the code: the host is told who they are, what this part of the text
says and the last lines of the conversation, and says one or two sentences. Each line
goes through the long-form guard (no labels, no recited instructions, no copy of the
part's summary, nothing already said, no loop) and ends on a sentence; a line with
nothing left is written again once, then left out.
"""

from __future__ import annotations

import asyncio
import re
from typing import Protocol

from .guard import Guard, Sources, clean, split_sentences
from .inference import Generation, Inference

LINE_TOKENS = 60


class Speaker(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def style(self) -> str: ...


def _system(me: Speaker, other: Speaker, title: str) -> str:
    return (
        f"You are {me.name}, a podcast host ({me.style}), talking with {other.name} about "
        f"{title}. Say one or two sentences in your own words about this part only. No "
        "names, no labels, no stage directions."
    )


async def section_dialogue(
    inference: Inference,
    title: str,
    summary: str,
    hosts: tuple[Speaker, Speaker],
    lines: int,
    *,
    said_before: tuple[str, ...] = (),
    temperature: float = 0.7,
) -> list[tuple[str, str]]:
    """``lines`` lines alternating between the hosts, the first host first; a line
    written again samples 0.2 wider."""
    talk: list[tuple[str, str]] = []
    for i in range(lines):
        me, other = hosts[i % 2], hosts[(i + 1) % 2]
        system = _system(me, other, title)
        recent = "\n".join(f"{who}: {what}" for who, what in talk[-2:])
        user = f"This part of {title}: {summary}"
        if recent:
            user += f"\n\nThe conversation so far:\n{recent}"
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        guard = Guard(
            Sources(
                names=(hosts[0].name, hosts[1].name),
                instructions=(system, "The conversation so far"),
                quoted=(summary,),
            )
        )
        earlier = (*said_before, *(what for _, what in talk))
        for attempt in range(2):
            gen = Generation(
                max_tokens=LINE_TOKENS,
                temperature=min(2.0, temperature + 0.2 * attempt),
                frequency_penalty=0.3 + 0.4 * attempt,
            )
            raw = "".join([p async for p in inference.stream_chat(messages, gen)])
            raw = re.sub(rf"^\s*\**{re.escape(me.name)}\**\s*:\s*", "", raw.strip())
            text = await asyncio.to_thread(clean, raw, guard, said=earlier)
            if text:
                done, _ = split_sentences(text)
                talk.append((me.name, " ".join(s.strip() for s in done[:2])))
                break
    return talk
