"""Memory of the regulars (literai_core/memory.py): a fact said yesterday reaches today's
!ask prompt across a restart, !forget me removes it from the SQLite file itself, and
nothing private, blocked or unbounded is kept."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from literai_core.chat import ChatLine, ReplyKind
from literai_core.core import ChatCore
from literai_core.memory import PENDING, Memory, notable
from literai_core.settings import MemorySettings

from .kit.chat import bot_settings, consume, line
from .kit.scripted import ScriptedInference

DAY = 86400.0
CAT = "my cat is called Miso and she hates the vacuum"
SETTINGS = MemorySettings()  # type: ignore[call-arg]


def core_with(memory: Memory, inference: ScriptedInference) -> ChatCore:
    return ChatCore(bot_settings(user_cooldown_s=0), inference, memory=memory)


async def remembered_yesterday(path: Path, *said: tuple[str, str]) -> None:
    """A fixture database: what viewers said a day ago, written by a Memory then."""
    memory = Memory(path, SETTINGS, now=lambda: time.time() - DAY)
    for user, text in said:
        assert memory.hear(line(text, user=user))
    await memory.aclose()


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (CAT, True),
        ("I main Zelda in every fighting game", True),
        ("i'm a nurse on night shifts this month", True),
        ("lol", False),
        ("what is my cat called?", False),  # a question
        ("I love this song https://example.com/song", False),  # a link
        ("the boss fight was hard", False),  # not about the speaker
    ],
)
def test_what_counts_as_worth_remembering(text: str, kept: bool) -> None:
    assert notable(text) is kept


async def test_a_fact_from_yesterday_reaches_todays_answer_after_a_restart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "memory.sqlite"
    await remembered_yesterday(path, ("ana", CAT), ("bo", "I live in Lisbon near the river"))
    memory = Memory(path, SETTINGS)  # the bot started again today
    inference = ScriptedInference(("Miso, of course!",), ("Of course, Lisbon!",))
    core = core_with(memory, inference)
    try:
        await consume(await core.handle(line("!ask what is my cat called?", user="ana")))
        await consume(await core.handle(line("!ask remember me?", user="bo", time=1)))
    finally:
        await memory.aclose()
    first, second = (call.messages[1]["content"] for call in inference.calls)
    assert f"- ana: {CAT}" in first and "Lisbon" not in first
    remembered = second.split("Recent chat")[0]  # the chat holds the bot's own answer
    assert "- bo: I live in Lisbon near the river" in remembered and "Miso" not in remembered


async def test_forget_me_removes_the_rows_and_the_words_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "memory.sqlite"
    await remembered_yesterday(path, ("ana", CAT), ("bo", "I live in Lisbon near the river"))
    memory = Memory(path, SETTINGS)
    core = core_with(memory, ScriptedInference())
    try:
        shown = await (await core.handle(line("!memory", user="ana"))).text()  # type: ignore[union-attr]
        assert shown.startswith(f'ana, I remember: "{CAT}" (1 day ago)')
        done = await core.handle(line("!forget me", user="ANA", time=1))  # any case
        assert done is not None and done.kind is ReplyKind.NOTICE
        assert await done.text() == "Done, ANA: I've forgotten the 1 thing you told me."
    finally:
        await memory.aclose()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT who FROM facts").fetchall() == [("bo",)]
    raw = path.read_bytes().lower()
    assert b"miso" not in raw and b"vacuum" not in raw  # not just hidden: gone
    assert b"lisbon" in raw  # bo's stays


async def test_moderators_forget_a_channel_or_a_name_and_viewers_only_themselves(
    tmp_path: Path,
) -> None:
    path = tmp_path / "memory.sqlite"
    await remembered_yesterday(path, ("ana", CAT), ("bo", "I live in Lisbon near the river"))
    memory = Memory(path, SETTINGS)
    core = core_with(memory, ScriptedInference())
    mod = frozenset({"moderator"})
    try:
        refused = await core.handle(line("!forget channel", user="bo"))
        assert refused is not None and (await refused.text()).startswith("Usage: !forget me")
        said = await core.handle(ChatLine("twitch", "#main", "mo", "!forget @bo", 1, mod))
        assert said is not None and await said.text() == (
            "Done: I've forgotten the 1 thing bo told me."
        )
        wipe = await core.handle(ChatLine("twitch", "#main", "mo", "!forget channel", 2, mod))
        assert wipe is not None and "the 1 thing I remembered here" in await wipe.text()
        assert await memory.about("twitch", "ana", None) == []
    finally:
        await memory.aclose()


async def test_private_blocked_own_and_command_lines_are_never_kept(tmp_path: Path) -> None:
    memory = Memory(tmp_path / "m.sqlite", SETTINGS)
    core = core_with(memory, ScriptedInference())
    dm = ChatLine("discord", "dm-1", "ana", CAT, 0, private=True)
    try:
        await core.handle(dm)
        await core.handle(line("my brother is a total asshole to me", user="bo"))
        await core.handle(line("!gpt2 my cat is called Miso and she bites"))
        assert not memory.hear(ChatLine("twitch", "#main", "literai", CAT, 0, own=True))
        await memory.flush()
        assert await memory.about("discord", "ana", None) == []
        assert await memory.about("twitch", "bo", None) == []
        assert await memory.about("twitch", "alice", None) == []
    finally:
        await memory.aclose()


async def test_memory_is_bounded_per_viewer_per_channel_in_time_and_in_waiting(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.sqlite"
    small = MemorySettings(per_user=3, per_channel=5, retention_days=1)  # type: ignore[call-arg]
    memory = Memory(path, small)
    for n in range(PENDING + 50):  # more than may wait: the rest are skipped, not queued
        memory.hear(line(f"I have {n} cats at home right now", user=f"v{n % 2}"))
    assert memory.skipped == 50
    await memory.flush()
    kept = [len(await memory.about("twitch", v, "#main")) for v in ("v0", "v1")]
    assert sorted(kept) == [2, 3]  # 3 a viewer, 5 in the channel: the oldest went
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM facts").fetchone() == (5,)
    await memory.aclose()
    later = Memory(path, small, now=lambda: time.time() + 2 * DAY)  # past retention
    try:
        assert await later.about("twitch", "v0", None) == []
    finally:
        await later.aclose()


async def test_a_recap_is_remembered_for_the_next_stream_and_forgotten_with_who_it_names(
    tmp_path: Path,
) -> None:
    path = tmp_path / "memory.sqlite"
    then = Memory(path, SETTINGS, now=lambda: time.time() - DAY)
    said = [("ana", "the speedrun ended at 1:52:47 with a new world record"),
            ("bo", "the boss fight took eleven tries before the final hit"),
            ("cy", "everyone cheered when the timer stopped at the last split")]  # fmt: skip
    core = ChatCore(bot_settings(user_cooldown_s=0), ScriptedInference(), memory=then)
    for n, (user, text) in enumerate(said):
        await core.handle(line(text, user=user, time=n))
    await consume(await core.handle(line("!summary", user="mo", time=10)))
    await then.aclose()
    memory = Memory(path, SETTINGS)
    inference = ScriptedInference(("A new record!",))
    try:
        today = core_with(memory, inference)
        await consume(await today.handle(line("!ask what happened last stream?", user="dee")))
        prompt = inference.calls[0].messages[1]["content"]
        assert "- stream summary: " in prompt and "1:52:47" in prompt
        assert await memory.forget_user("twitch", "an") == 0  # "an" is in words, not a name
        assert await memory.forget_user("twitch", "ana") == 1  # the summary quotes ana
        assert await memory.about("twitch", "ana", None) == []
    finally:
        await memory.aclose()
    assert b"1:52:47" not in path.read_bytes()
