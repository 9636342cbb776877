"""The admission rule every engine shares (text, speech, images)."""

from __future__ import annotations

import asyncio

import pytest

from inference_server.engine import QueueFull, Slots


async def test_slots_admit_concurrent_plus_queue_and_count_until_release() -> None:
    depths: list[int] = []
    slots = Slots(1, 1, "jobs", depths.append)
    await slots.acquire()  # running
    waiter = asyncio.ensure_future(slots.acquire())  # queued
    await asyncio.sleep(0)
    with pytest.raises(QueueFull, match="1 jobs are already waiting"):
        await slots.acquire()
    slots.release()
    await waiter  # the queued job runs now
    # Until the running job releases, a newcomer may only queue.
    late = asyncio.ensure_future(slots.acquire())
    await asyncio.sleep(0)
    assert not late.done()
    with pytest.raises(QueueFull):
        await slots.acquire()
    slots.release()
    await late
    assert depths == [1, 0] * 3  # each admitted job passes through the queue once
