"""Busy channels on Discord (bots/discord/digest.py), with the real discord.py against
the fake Discord: answers arriving while another is still being posted share one
message, a part per asker, with no pings, within the channel's 5 actions per 5 s."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from literai_core.inference import Generation

from .kit.discord_helpers import BOT, run_bot, settled, stop_bot, until
from .kit.fake_discord import FakeDiscord

# Room for four waiting answers, each answered whole (the one-sentence cap of a busy
# channel, bot.ask.busy_after, has its own test).
BUSY = BOT.model_copy(
    update={"channel_queue": 8, "ask": BOT.ask.model_copy(update={"busy_after": 0})}
)


class Gated:
    """An inference whose answers say their first sentence at once and finish when the
    test opens their gate (the first answer is held, so the others arrive meanwhile)."""

    def __init__(self) -> None:
        self.gates: list[asyncio.Event] = []

    async def stream_chat(
        self, messages: list[dict[str, str]], gen: Generation, *, user: str | None = None
    ) -> AsyncIterator[str]:
        n = len(self.gates)
        gate = asyncio.Event()
        self.gates.append(gate)
        yield f"Answer {n} starts with the paper tape. "
        await gate.wait()
        yield f"Answer {n} ends with the bell."

    def open(self) -> None:
        for gate in self.gates:
            gate.set()

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


async def test_answers_arriving_meanwhile_share_one_message_naming_each_asker(
    fake: FakeDiscord,
) -> None:
    model = Gated()
    client, task = await run_bot(fake, model, bot=BUSY)  # type: ignore[arg-type]
    try:
        first = await fake.user_says("!ask one?", user_id="1100000000000000201", name="ana")
        await until(lambda: len(model.gates) == 1 and bool(fake.actions))
        for uid, name in (("202", "bo"), ("203", "@everyone"), ("204", "c*y")):
            await fake.user_says(f"!ask from {name}?", user_id=f"1100000000000000{uid}", name=name)
        await until(lambda: len(model.gates) == 4)
        await until(lambda: sum(a.kind == "send" for a in fake.actions) == 2)
        model.open()
        await settled(client, fake)
    finally:
        await stop_bot(client, task)
    sends = [a for a in fake.actions if a.kind == "send"]
    assert len(sends) == 2  # ana's own reply, and one message for the three others
    assert sends[0].reference == first and sends[1].reference is None
    final = {a.message_id: a.content for a in fake.actions if a.kind in ("send", "edit")}
    assert final[sends[0].message_id] == (
        "Answer 0 starts with the paper tape. Answer 0 ends with the bell."
    )
    assert final[sends[1].message_id].splitlines() == [
        f"**{name}**: Answer {n} starts with the paper tape. Answer {n} ends with the bell."
        for n, name in ((1, "bo"), (2, "@\u200beveryone"), (3, "c\\*y"))
    ]  # names escaped: no ping, no markdown
    bodies = [b for _, _, b in fake.bodies if "content" in b]
    assert all(b.get("allowed_mentions", {}).get("parse") == [] for b in bodies)
    assert fake.max_per_5s(("send", "edit")) <= 5


async def test_with_combining_off_each_answer_is_its_own_reply(fake: FakeDiscord) -> None:
    model = Gated()
    client, task = await run_bot(fake, model, combine_answers=False)  # type: ignore[arg-type]
    try:
        await fake.user_says("!ask one?", user_id="1100000000000000201", name="ana")
        await until(lambda: len(model.gates) == 1 and bool(fake.actions))
        await fake.user_says("!ask two?", user_id="1100000000000000202", name="bo")
        await until(lambda: len(model.gates) == 2)
        model.open()
        await settled(client, fake)
    finally:
        await stop_bot(client, task)
    sends = [a for a in fake.actions if a.kind == "send"]
    assert len(sends) == 2 and all(s.reference for s in sends)
    assert not any("**" in a.content for a in fake.actions)
