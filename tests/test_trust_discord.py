"""Trust on Discord, through the real discord.py against the fake Discord: no request the
bot makes can ping anyone (first sends, streamed edits, slash responses and follow-ups),
and a DM is private: the overlay's observers never get it as public."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from bots.web.overlay import ALL, Overlay
from bots.web.settings import WebSettings
from literai_core.chat import Reply

from .kit.discord_helpers import run_bot, settled, stop_bot
from .kit.fake_discord import FakeDiscord
from .kit.scripted import MADE, ScriptedInference
from .kit.waiting import until

PING = "@everyone look here <@&1100000000000000500> <@1100000000000000100>"


class Slow(ScriptedInference):
    """The model's answer is the ping, grown slowly: the reply is sent, then edited."""

    async def stream_completion(
        self, prompt: str, gen: Any, *, user: Any = None
    ) -> AsyncIterator[str]:
        for word in (PING + ". And more words to come. Then more words again.").split():
            await asyncio.sleep(0.1)
            yield word + " "

    stream_chat = stream_completion  # type: ignore[assignment]


def _text_bodies(fake: FakeDiscord) -> list[dict[str, Any]]:
    found = []
    for _, _, body in fake.bodies:
        data = body.get("data") if isinstance(body.get("data"), dict) else body
        if data.get("content"):
            found.append(data)
    return found


async def test_no_send_edit_or_interaction_response_can_ping(fake: FakeDiscord) -> None:
    client, task = await run_bot(fake, Slow(), edit_interval_s=0.5)
    try:
        await fake.user_says(f"!gpt2 {PING}")
        await until(lambda: any(a.kind == "edit" for a in fake.actions), 60)
        await fake.user_slash("ask", {"question": PING})
        await settled(client, fake)
        await until(lambda: any("more words" in b["content"] for b in _text_bodies(fake)))
    finally:
        await stop_bot(client, task)
    bodies = _text_bodies(fake)
    methods = {method for method, _, body in fake.bodies if body}
    assert {"POST", "PATCH"} <= methods  # sends and edits both happened
    assert any("@everyone" in b["content"] for b in bodies)
    for body in bodies:
        assert body.get("allowed_mentions", {}).get("parse") == [], body


async def test_a_dm_is_never_shown_on_the_overlay(fake: FakeDiscord) -> None:
    overlay = Overlay(WebSettings())  # type: ignore[call-arg]  # every channel shown
    seen: list[Reply] = []
    client, task = await run_bot(
        fake,
        ScriptedInference(MADE, ["A public answer."]),
        observers=[overlay.observe, seen.append],
    )
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    overlay._pages[ALL] = {queue}  # an open /overlay/all page
    try:
        await fake.user_says("!say hi from my DMs", dm=True)
        await fake.user_says("!ask something public")
        await until(lambda: len(seen) == 2)
        await settled(client, fake)
    finally:
        await stop_bot(client, task)
    assert [r.line.private for r in seen] == [True, False]
    shown = []
    while not queue.empty():
        shown.append(queue.get_nowait())
    assert shown and all("hi from my DMs" not in str(data) for _, data in shown)
    assert all(kind == "caption" for kind, _ in shown)  # the DM's speech never played
