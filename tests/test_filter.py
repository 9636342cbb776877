"""The content filter: what it catches (leetspeak, spaced letters) and what it leaves
("glass", "analysis", allowed words); mask, drop and replace; a streamed answer never
shows a blocked word even split across pieces; commands holding one never reach the
model; moderators' ``!filter``; and, through the real discord.py and twitchio against
the platform fakes, no edit, message or overlay caption ever carries one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bots.web.overlay import ALL, Overlay
from bots.web.settings import WebSettings
from literai_core.filter import ContentFilter, Screen
from literai_core.settings import BotSettings, FilterSettings

from .kit.chat import MAIN, line, make_core, mod_line, text_of
from .kit.discord_helpers import run_bot, settled, stop_bot
from .kit.fake_discord import FakeDiscord
from .kit.fake_twitch import FakeTwitch
from .kit.scripted import ScriptedInference
from .kit.twitch_helpers import run_bot as run_twitch
from .kit.twitch_helpers import stop_bot as stop_twitch
from .kit.waiting import until

BAD = ("fuck", "f u c k", "fvck", "sh1t", "@ss", "a$$hole", "FUCKING")


@pytest.mark.parametrize("word", BAD)
def test_blocked_words_and_their_disguises_are_caught(word: str) -> None:
    said = ContentFilter().screen(f"well {word} that.")
    assert said == "well " + "*" * len(word) + " that."


@pytest.mark.parametrize(
    "text", ["A glass of water.", "Its analysis holds.", "Scunthorpe is a town.", "class"]
)
def test_words_that_only_contain_one_pass(text: str) -> None:
    assert ContentFilter().screen(text) == text


def test_actions_extra_and_allowed_words() -> None:
    text = "First one is fine. Then bastard it. Last one."
    assert ContentFilter(action="drop").screen(text) == "First one is fine. Last one."
    assert ContentFilter(action="replace", safe_line="Nope.").screen(text) == "Nope."
    assert ContentFilter(allowed=["bastard"]).screen(text) == text
    assert ContentFilter(extra=["spoiler"]).screen("no spoiler here") == "no ******* here"
    assert ContentFilter(action="drop").screen("bastard.") == "Let's keep it friendly."
    # Everyday words of the list pass unless the config blocks them again.
    everyday = "Oh my god, the pawn takes; a gay couple, a crap move."
    assert ContentFilter().screen(everyday) == everyday
    assert ContentFilter(extra=["pawn"]).screen("the pawn") == "the ****"


def test_a_channels_own_words() -> None:
    f = ContentFilter()
    assert f.add(MAIN, "creeper") and f.screen("a creeper!", MAIN) == "a *******!"
    assert f.screen("a creeper!", "elsewhere") == "a creeper!"
    f.add(MAIN, "bastard", allow=True)
    assert f.screen("bastard", MAIN) == "bastard" and f.screen("bastard") == "*******"
    assert f.remove(MAIN, "creeper") and not f.remove(MAIN, "creeper")
    assert f.screen("a creeper!", MAIN) == "a creeper!"


def test_a_stream_split_mid_word_never_shows_the_word() -> None:
    for action in ("mask", "drop"):
        screen = Screen(ContentFilter(action=action), MAIN)  # type: ignore[arg-type]
        pieces = ["Oh ", "fu", "ck", " this", ". And", " then", " sh", "1t", "! Fine", "."]
        pieces += [" Now a long, clean sentence that goes on and on for a while."] * 2
        shown = [screen.feed(p) for p in pieces] + [screen.end()]
        for n in range(len(shown)):  # at no moment does the text so far hold a word
            so_far = "".join(shown[: n + 1]).replace(" ", "").lower()
            assert "fu" + "ck" not in so_far and "sh" + "1t" not in so_far
        joined = "".join(shown)
        if action == "mask":
            assert joined.startswith("Oh **** this. And then ****! Fine. Now a long")
            assert shown[3] == ""  # nothing shown until the word is known
            assert len([s for s in shown if s]) > 2  # long text is shown as it grows
        else:
            assert joined.startswith("Fine. Now a long")


def test_replace_shows_the_safe_line_once_and_nothing_after() -> None:
    screen = Screen(ContentFilter(action="replace", safe_line="Nope."), MAIN)
    clean = "Hi there, this is a clean sentence long enough to show. "
    shown = [screen.feed(p) for p in [clean, "Oh shit. ", "More. "]] + [screen.end()]
    assert shown[0] and "shit" not in "".join(shown)
    assert "".join(shown).endswith(" Nope.") and shown[2:] == ["", ""]


# ---------------------------------------------------------------------------------- the core


async def test_a_command_with_a_blocked_word_never_reaches_the_model() -> None:
    inference = ScriptedInference()
    core = make_core(inference)
    said = await text_of(await core.handle(line("!ask why is this so fucking slow?")))
    assert said == "I can't use that: it has a word blocked here."
    assert inference.calls == [] and core.filter is not None and core.filter.blocks == 1


async def test_an_answer_is_screened_in_every_delta_in_the_window_and_the_count() -> None:
    inference = ScriptedInference(["Well, ", "this is bull", "shit. ", "Anyway, hello."])
    core = make_core(inference)
    reply = await core.handle(line("!ask how is it?"))
    assert reply is not None
    deltas = [d async for d in reply.deltas()]
    final = await reply.text()
    assert "shit" not in "".join(deltas) and "shit" not in final
    assert "********" in final and final.endswith("Anyway, hello.")
    assert all("shit" not in ln.text for ln in core.window(MAIN))  # remembered screened
    assert core.filter is not None and core.filter.blocks == 1


async def test_moderators_block_allow_and_list_words_per_channel() -> None:
    inference = ScriptedInference(["The creeper came."], ["A creeper again."])
    core = make_core(inference, user_cooldown_s=0)
    assert await text_of(await core.handle(mod_line("!filter add creeper"))) == "Blocked here."
    assert await text_of(await core.handle(mod_line("!filter allow bastard"))) == "Allowed here."
    listed = await text_of(await core.handle(mod_line("!filter list")))
    assert listed == "Blocked here: c******. Allowed here: bastard."  # never the word itself
    assert await text_of(await core.handle(line("!ask what came?", time=1))) == "The ******* came."
    refused = await text_of(await core.handle(line("!filter remove creeper", time=2)))
    assert refused == "Only moderators can use !filter."
    assert await text_of(await core.handle(mod_line("!filter remove creeper", 3))) == "Removed."
    assert await text_of(await core.handle(line("!ask again?", time=4))) == "A creeper again."
    usage = await text_of(await core.handle(mod_line("!filter block x", 5)))
    assert usage == "Usage: !filter add|allow|remove WORD, or list"


async def test_the_filter_can_be_off() -> None:
    core = make_core(ScriptedInference(["Shit, right."]), filter=FilterSettings(enabled=False))
    assert await text_of(await core.handle(line("!ask really?"))) == "Shit, right."
    said = await text_of(await core.handle(mod_line("!filter list", 1)))
    assert said == "The filter is off (bot.filter.enabled)."


# ------------------------------------------------------------------------- on the platforms


class Slow(ScriptedInference):
    """A model that streams a blocked word split across pieces, slowly enough (``pause``
    between pieces) that the adapters show the answer as it grows."""

    pause = 0.08

    async def stream_chat(self, messages: Any, gen: Any, *, user: Any = None) -> AsyncIterator[str]:
        long = "It ran for hours and hours, and the whole chat stayed for every minute."
        words = [w + " " for w in long.split()]
        for piece in ["Sure thing. ", "That was ", "fu", "cking ", "great. ", *words]:
            await asyncio.sleep(self.pause)
            yield piece

    stream_completion = stream_chat  # type: ignore[assignment]


async def test_no_discord_edit_or_overlay_caption_shows_a_blocked_word(
    fake: FakeDiscord,
) -> None:
    overlay = Overlay(WebSettings())  # type: ignore[call-arg]
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    overlay._pages[ALL] = {queue}
    client, task = await run_bot(fake, Slow(), edit_interval_s=0.5, observers=[overlay.observe])
    try:
        await fake.user_says("!gpt2 the run was")  # streamed a piece at a time
        await until(lambda: any("every minute" in (a.content or "") for a in fake.actions), 30)
        await settled(client, fake)
    finally:
        await stop_bot(client, task)
    contents = [a.content or "" for a in fake.actions]
    assert len(contents) >= 2  # sent, then edited as it grew
    assert all("fuck" not in c.lower() for c in contents), contents
    captions = [str(event) for _, event in _drain(queue)]
    assert captions and all("fuck" not in c.lower() for c in captions), captions


def _drain(queue: asyncio.Queue[tuple[str, dict[str, Any]]]) -> list[tuple[str, Any]]:
    found = []
    while not queue.empty():
        found.append(queue.get_nowait())
    return found


async def test_no_twitch_message_carries_a_blocked_word(twitch: FakeTwitch) -> None:
    bot = BotSettings(filter=FilterSettings(action="drop"))  # type: ignore[call-arg]
    quick = Slow()
    quick.pause = 0.0  # Twitch posts the whole answer: no need to wait between pieces
    client, task = await run_twitch(twitch, quick, bot=bot)
    try:
        await twitch.chat("!ask how was it?")
        await until(lambda: bool(twitch.sent), 30)
    finally:
        await stop_twitch(client, task)
    long = "It ran for hours and hours, and the whole chat stayed for every minute."
    assert [s.text for s in twitch.sent] == [f"Sure thing. {long}"]


async def test_podcast_lines_and_summaries_are_screened_before_they_are_spoken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import literai_core.podcast as podcast
    from literai_core.episode import Line
    from literai_core.settings import PodcastSettings, SummarySettings
    from literai_core.summarize import SummaryBudget

    spoken: list[str] = []
    shown: list[str] = []

    async def script(*_args: Any) -> tuple[list[Line], list[str]]:
        return [Line("Ada", "What a shit day.", 0), Line("Bob", "Indeed.", 0)], ["A sh1t plot."]

    async def illustrate(_inf: Any, _title: str, summaries: list[str], *_rest: Any) -> Any:
        shown.extend(summaries)
        return [], []

    async def render(_inf: Any, lines: list[Line], *_args: Any, **_kw: Any) -> Any:
        spoken.extend(line.text for line in lines)
        return b"", []

    for name, fake in (("script", script), ("illustrate", illustrate), ("render", render)):
        monkeypatch.setattr(podcast, name, fake)
    filt = ContentFilter()
    await podcast.produce(
        ScriptedInference(), "A show", "text",
        podcast.PodcastPlan.from_settings(PodcastSettings()),
        SummaryBudget.from_settings(SummarySettings()), model="tts-1", screen=filt.screen,
    )  # fmt: skip
    assert spoken == ["What a **** day.", "Indeed."] and shown == ["A **** plot."]


async def test_channel_words_are_kept_across_restarts(tmp_path: Any) -> None:
    store = tmp_path / "data" / "filter-words.json"
    core = make_core(ScriptedInference())
    assert core.filter is not None
    core.filter.load(store)  # as literai run does at start: no file yet
    await text_of(await core.handle(mod_line("!filter add creeper")))
    await text_of(await core.handle(mod_line("!filter allow bastard", 1)))
    restarted = make_core(ScriptedInference(["A creeper, you bastard."]))
    assert restarted.filter is not None
    restarted.filter.load(store)
    said = await text_of(await restarted.handle(line("!ask what came?", time=2)))
    assert said == "A *******, you bastard."
    store.write_text("not json")
    make_core(ScriptedInference()).filter.load(store)  # type: ignore[union-attr]  # logged, no crash
