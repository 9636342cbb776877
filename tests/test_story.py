"""Story mode: the repetition guard fires on a passage that repeats and not on a varied
one, errors never enter the story, and stories persist in SQLite across restarts."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from literai_core.chat import ChatLine, ReplyKind
from literai_core.commands import default_components
from literai_core.core import ChatCore
from literai_core.inference import InferenceError, OpenAIInference
from literai_core.story import Story, StoryKnobs, StoryStore, distinct, next_passage, repetition

from .kit.chat import bot_settings
from .kit.scripted import ScriptedInference
from .kit.server import API_KEY, Server, literai, write_config

FIRST = "Mara found the teletype humming in the dark station, its paper curling onto the floor."
VARIED = "At dawn a courier rode in from Harwick with a sealed letter for the stationmaster."


def test_repetition_and_distinct() -> None:
    assert repetition(FIRST, FIRST) == 1.0
    assert repetition(VARIED, FIRST) == 0.0
    assert 0 < repetition(FIRST + " " + VARIED, FIRST) < 1
    assert distinct("a b a b a b") < distinct(VARIED) == 1.0


async def test_the_guard_rewrites_a_repeating_passage_with_a_nudge_and_penalty() -> None:
    story = Story("A teletype in a lonely station.", "Mara finds the teletype.", [FIRST])
    inference = ScriptedInference([FIRST], [VARIED], ["Mara meets a courier."])
    passage = await next_passage(inference, story, StoryKnobs(retries=2))
    assert passage.text == VARIED and passage.tries == 2 and passage.repeat == 0.0
    first_try, second_try, _ = inference.calls  # then the summary
    assert first_try.gen.frequency_penalty == 0 and second_try.gen.frequency_penalty > 0
    prompt = (second_try.messages or [])[-1]["content"]
    assert "Important:" in prompt and "Do not reuse earlier wording" in prompt
    assert story.passages == [FIRST, VARIED] and story.summary == "Mara meets a courier."


async def test_a_varied_passage_is_kept_at_once() -> None:
    story = Story("A teletype in a lonely station.", "", [FIRST])
    inference = ScriptedInference([VARIED], ["A courier came."])
    passage = await next_passage(inference, story, StoryKnobs())
    assert passage.tries == 1 and len(inference.calls) == 2


async def test_when_every_try_repeats_the_least_repetitive_is_kept() -> None:
    # FIRST is two passages back: not copied from the prompt's last paragraph (the
    # guard drops such copies outright), but repeating the story all the same.
    story = Story("Premise.", "", [FIRST, "The night train came late to the valley."])
    half = FIRST[: len(FIRST) // 2] + " " + VARIED
    inference = ScriptedInference([FIRST], [half], [FIRST], ["Summary."])
    passage = await next_passage(inference, story, StoryKnobs(retries=2, repeat_threshold=0.1))
    assert passage.text == half and passage.tries == 3


def _core(tmp: Path, inference: ScriptedInference | OpenAIInference) -> ChatCore:
    stories = StoryStore(tmp / "stories.sqlite")
    return ChatCore(bot_settings(user_cooldown_s=0), inference, default_components(stories=stories))


def said(text: str, t: float = 0) -> ChatLine:
    return ChatLine("twitch", "#main", "viewer", text, t)


async def _say(core: ChatCore, text: str) -> tuple[ReplyKind, str]:
    reply = await core.handle(said(text))
    assert reply is not None
    return reply.kind, await reply.text()


async def test_story_commands_persist_and_errors_never_enter_the_story(tmp_path: Path) -> None:
    inference = ScriptedInference(
        [FIRST], ["Mara finds a teletype."], InferenceError("the model server is down")
    )
    core = _core(tmp_path, inference)
    assert await _say(core, "!story next") == (
        ReplyKind.NOTICE, "No story here yet: !story start <premise>"
    )  # fmt: skip
    assert await _say(core, "!story start A teletype in a lonely station.") == (
        ReplyKind.ANSWER, FIRST
    )  # fmt: skip
    kind, text = await _say(core, "!story next a storm")
    assert kind is ReplyKind.ERROR and "model server is down" in text
    assert await _say(core, "!story start again") == (
        ReplyKind.NOTICE, "A story is already going here; !story end first."
    )  # fmt: skip

    restarted = _core(tmp_path, ScriptedInference([VARIED], ["Then a courier came."]))
    stored = await _say(restarted, "!story recap")
    assert stored == (ReplyKind.NOTICE, "So far: Mara finds a teletype.")
    assert await _say(restarted, "!story next a courier") == (ReplyKind.ANSWER, VARIED)
    prompt = (restarted.inference.calls[0].messages or [])[-1]["content"]  # type: ignore[attr-defined]
    assert "The audience asks for this next: a courier" in prompt and FIRST in prompt
    assert await _say(restarted, "!story end") == (ReplyKind.NOTICE, "The end, after 2 passages.")
    assert StoryStore(tmp_path / "stories.sqlite").get("twitch:#main") is None


@pytest.mark.slow
async def test_a_story_with_the_real_model(tmp_path: Path, server: Server) -> None:
    async with openai.AsyncOpenAI(base_url=server.v1, api_key=API_KEY, max_retries=0) as api:
        core = _core(tmp_path, OpenAIInference(api, "smollm2"))
        kind, first = await _say(core, "!story start A teletype prints messages from the future.")
        kind2, second = await _say(core, "!story next the stationmaster reads one aloud")
    assert kind is kind2 is ReplyKind.ANSWER and first.strip() and second.strip()
    stored = StoryStore(tmp_path / "stories.sqlite").get("twitch:#main")
    assert stored is not None and len(stored.passages) == 2 and stored.summary
    for shown, kept in zip((first, second), stored.passages, strict=True):
        assert " ".join(kept.split()).startswith(shown[:40])  # chat shows it trimmed


@pytest.mark.slow
def test_literai_story_writes_rounds_and_refuses_bad_arguments(tmp_path: Path) -> None:
    config = write_config(tmp_path, bot={"story": {"passage_tokens": 80, "summary_tokens": 30}})
    done = literai("story", "A teletype in a lighthouse.", "--rounds", "2", "--config", str(config))
    assert done.returncode == 0, done.stderr
    passages = [p for p in done.stdout.split("\n\n") if p.strip()]
    assert len(passages) == 2 and "Traceback" not in done.stderr
    for args, said in [
        (("x", "--rounds", "0"), "rounds must be 1-200"),
        (("  ", "--rounds", "1"), "the premise must be 1 to 1000 characters"),
    ]:
        bad = literai("story", *args, "--config", str(config))
        assert bad.returncode == 2 and said in bad.stderr, bad.stderr
