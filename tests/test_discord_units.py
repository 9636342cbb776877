"""Splitting and pacing for Discord, with a fake clock: nothing sleeps."""

from __future__ import annotations

from bots.pacing import Pacer
from bots.split import split_message


def test_split_never_cuts_a_word_and_respects_the_limit() -> None:
    text = " ".join(f"word{i}" for i in range(1200))
    parts = split_message(text, 2000)
    assert all(len(p) <= 2000 for p in parts)
    assert " ".join(parts) == text  # nothing lost, no word broken
    assert split_message("short", 2000) == ["short"]
    assert split_message("   ", 2000) == []


def test_split_prefers_paragraphs_and_keeps_code_fences_closed() -> None:
    para = "A sentence that fills a paragraph nicely. " * 20
    text = f"{para}\n\n{para}\n\n{para}"
    parts = split_message(text, 2000)
    assert all(p.endswith(".") for p in parts)
    code = "Intro.\n\n```python\n" + "print('x')\n" * 400 + "```\nDone."
    parts = split_message(code, 2000)
    assert all(len(p) <= 2000 for p in parts)
    for p in parts:
        assert p.count("```") % 2 == 0, p[:40]  # every piece opens and closes its fences
    assert parts[1].startswith("```python\n") and parts[-1].endswith("Done.")


async def test_pacer_allows_five_per_window_counted_from_the_responses() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    pacer = Pacer(5, 5.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        async with pacer.slot():
            now[0] += 0.1  # the request takes 100 ms
    assert pacer.try_slot() is None  # a sixth optional edit is skipped
    async with pacer.slot():  # a sixth required send waits
        pass
    # The first response came back at 0.1 s, so the sixth may start at 5.1 s, not 5.0 s.
    assert now[0] >= 5.1 - 1e-9 and slept


async def test_a_spread_pacer_spaces_actions_once_two_are_in_the_window() -> None:
    """Discord's pacer: two at once, then a second apart, so a burst's later answers
    still find budget instead of a window spent in its first second."""
    now = [0.0]

    async def sleep(s: float) -> None:
        now[0] += s

    pacer = Pacer(5, 5.0, clock=lambda: now[0], sleep=sleep, spread=True)
    started = []
    for _ in range(7):
        async with pacer.slot():
            started.append(now[0])
    assert started[:2] == [0.0, 0.0]
    # The window's own limit still holds: the sixth waits for the first to leave it.
    assert started[2:] == [1.0, 2.0, 3.0, 5.0, 6.0]
    assert pacer.try_slot() is None  # an optional edit within the second is skipped
    now[0] += 1.0
    assert pacer.try_slot() is not None
