"""A channel's outbox (Twitch, IRC): replies are queued whole or refused, and a refusal
always gets out — it has places of its own — and is said once however often it is
asked for."""

from __future__ import annotations

import asyncio

from bots.outbox import Outbox
from bots.pacing import Pacer


async def test_a_refusal_gets_out_when_replies_fill_the_queue_and_is_said_once() -> None:
    sent: list[tuple[str, str | None]] = []
    four = asyncio.Event()

    async def send(text: str, reply_to: str | None) -> None:
        sent.append((text, reply_to))
        if len(sent) == 4:
            four.set()

    box: Outbox[str | None] = Outbox("test", send, Pacer(100, 30.0), size=3, reserve=1)
    assert box.offer([("part 1", "m1"), ("part 2", None), ("part 3", None)])
    assert box.room() == 0
    assert not box.offer([("another reply", "m2")])  # whole or nothing
    assert box.notify("@bob chat is busy — try again in a minute.", "m2")
    for _ in range(40):  # forty refusals are one
        assert box.notify("@bob chat is busy — try again in a minute.", "m3")
    assert not box.notify("a different notice", "m4")  # even the reserve is full now
    box.start()
    try:
        await asyncio.wait_for(four.wait(), 10)
    finally:
        box.stop()
    assert sent == [
        ("part 1", "m1"), ("part 2", None), ("part 3", None),
        ("@bob chat is busy — try again in a minute.", "m2"),
    ]  # fmt: skip
