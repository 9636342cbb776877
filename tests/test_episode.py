"""Podcast episode audio: two hosts in two voices (Piper's joe and espeak-ng's robot)
through the real server, 250 ms between lines, a timeline that matches the audio, and a
folder that appears whole or not at all."""

from __future__ import annotations

import io
import itertools
import json
import wave
from pathlib import Path

import openai
import pytest
from PIL import Image

import literai_core.episode as episode_module
from literai_core.episode import Cue, EpisodeError, Line, render, write_episode
from literai_core.inference import InferenceError, OpenAIInference
from literai_core.podcast import Host, PodcastPlan, produce
from literai_core.summarize import SummaryBudget

from .kit.media import colour_of, picture, png_of, tone
from .kit.scripted import ScriptedInference
from .kit.server import API_KEY, Server, literai, write_config

SCRIPT = [
    Line("Ada", "Welcome to the show. Today: a teletype that prints tomorrow.", 0),
    Line("Bob", "I read the first chapter twice. The clerk is so calm about it.", 0),
    Line("Ada", "Calm until the paper runs out, anyway.", 1),
    Line("Bob", "And that is where we stop for today.", 1),
]
VOICES = {"Ada": "joe", "Bob": "robot"}


def seconds(wav: bytes) -> float:
    with wave.open(io.BytesIO(wav)) as w:
        return w.getnframes() / w.getframerate()


@pytest.mark.slow
async def test_two_voices_gaps_and_a_timeline_that_matches_the_audio(
    server: Server, tmp_path: Path
) -> None:
    async with openai.AsyncOpenAI(base_url=server.v1, api_key=API_KEY, max_retries=0) as api:
        seen: list[tuple[int, int]] = []
        wav, cues = await render(
            OpenAIInference(api, "smollm2"),
            SCRIPT,
            VOICES,
            model="tts-1",
            progress=lambda done, total: seen.append((done, total)),
        )
    assert seen[0] == (0, 4) and seen[-1] == (4, 4)
    assert [c.speaker for c in cues] == ["Ada", "Bob", "Ada", "Bob"]
    for a, b in itertools.pairwise(cues):
        assert abs((b.start - a.end) - 0.25) < 0.002  # 250 ms between lines
        assert a.start < a.end
    total = seconds(wav)
    assert abs(cues[-1].end - total) / total < 0.01  # within 1%
    folder = write_episode(tmp_path / "episodes", "ep-1", "The Teletype", wav, cues)
    timeline = json.loads((folder / "timeline.json").read_text())
    assert timeline["duration"] == cues[-1].end and len(timeline["lines"]) == 4
    assert (folder / "transcript.txt").read_text().startswith("The Teletype\n\nAda: Welcome")
    assert seconds((folder / "audio.wav").read_bytes()) == total


class FailsAtLine(ScriptedInference):
    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.n = 0
        self.fail_at = fail_at

    async def speech(self, text: str, *, voice: str, model: str) -> bytes:
        self.n += 1
        if self.n == self.fail_at:
            raise InferenceError("the speech server went away")
        return tone(0.2)


async def test_a_failure_midway_leaves_no_half_episode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InferenceError):
        await render(FailsAtLine(3), SCRIPT, VOICES, model="tts-1")
    wav, cues = await render(FailsAtLine(99), SCRIPT, VOICES, model="tts-1")
    episodes = tmp_path / "episodes"

    class Boom(Exception):
        pass

    images = {"a.png": b"png"}
    original = episode_module._durable  # every file of an episode goes through it

    def crash(path: Path, data: bytes) -> None:
        if path.name == "transcript.txt":
            raise Boom("disk full")
        original(path, data)

    monkeypatch.setattr(episode_module, "_durable", crash)
    with pytest.raises(Boom):
        write_episode(episodes, "ep-2", "Crash", wav, cues, images)
    monkeypatch.undo()
    assert list(episodes.iterdir()) == []  # neither the episode nor its temp folder
    write_episode(episodes, "ep-2", "Fine", wav, cues, images)
    with pytest.raises(EpisodeError, match="exists already"):
        write_episode(episodes, "ep-2", "Again", wav, cues)
    with pytest.raises(EpisodeError, match="bad episode id"):
        write_episode(episodes, "../up", "Bad", wav, cues)


async def test_bad_scripts_are_refused() -> None:
    with pytest.raises(EpisodeError, match="empty"):
        await render(FailsAtLine(99), [], VOICES, model="tts-1")
    with pytest.raises(EpisodeError, match="no voice for Cy"):
        await render(FailsAtLine(99), [Line("Cy", "hi")], VOICES, model="tts-1")
    assert Cue(0, "Ada", "hi", 0, 0.0, 1.0).image is None


@pytest.mark.slow
def test_literai_podcast_makes_a_whole_episode_with_the_real_models(tmp_path: Path) -> None:
    doc = tmp_path / "the_harwick_teletype.md"
    doc.write_text(STORY_TEXT)
    config = write_config(
        tmp_path,
        data_dir=str(tmp_path / "data"),
        bot={
            "summary": {"chunk_tokens": 200, "summary_tokens": 50},
            "podcast": {"max_sections": 2, "lines_per_section": 2},
        },
    )
    done = literai("podcast", str(doc), "--config", str(config))
    assert done.returncode == 0, done.stderr
    folder = Path(done.stdout.strip())
    assert folder.parent == tmp_path / "data" / "episodes" and folder.is_dir()
    timeline = json.loads((folder / "timeline.json").read_text())
    lines = timeline["lines"]
    assert timeline["title"] == "the harwick teletype" and len(lines) >= 6
    assert {ln["speaker"] for ln in lines} == {"Ada", "Bob"}
    assert all(a["end"] <= b["start"] for a, b in itertools.pairwise(lines))  # ordered
    total = seconds((folder / "audio.wav").read_bytes())
    assert abs(timeline["duration"] - total) / total < 0.01
    for ln in lines:  # no image model on this server: title cards
        card = Image.open(folder / ln["image"])
        assert card.size == (1280, 720)
    assert [s["source"] for s in timeline["sections"]] == ["title card"] * 2
    assert (folder / "transcript.txt").read_text().count("\n") >= len(lines)


STORY_TEXT = "\n\n".join(
    f"Chapter {n}. At Harwick station the old teletype printed news from the next day. "
    f"On night {n} the clerk Mara read that a storm would close the line, and warned the "
    "driver, who did not believe her until the wires came down."
    for n in range(1, 5)
)


class Counting(ScriptedInference):
    """Chat from a script; speech as tones, failing once at call ``fail_at``."""

    def __init__(self, *answers: list[str], fail_at: int = 0) -> None:
        super().__init__(*answers)
        self.spoken: list[str] = []
        self.drawn: list[str] = []
        self.fail_at = fail_at

    async def image(self, prompt: str, *, size: str) -> bytes:
        self.drawn.append(prompt)
        return picture(prompt, size)

    async def speech(self, text: str, *, voice: str, model: str) -> bytes:
        if len(self.spoken) + 1 == self.fail_at:
            self.fail_at = 0
            raise InferenceError("the speech server went away")
        self.spoken.append(text)
        return tone(0.2)


async def test_a_stopped_podcast_resumes_where_it_stopped(tmp_path: Path) -> None:
    hosts = (Host("Ada", "joe", ""), Host("Bob", "robot", ""))
    plan = PodcastPlan(hosts, max_sections=1, lines_per_section=2)
    budget = SummaryBudget(chunk_tokens=1000)
    cache = tmp_path / ".work"
    first = Counting(["Ada: It prints."], ["Tomorrow's news."], ["**A lamp-lit teletype**"],
                     fail_at=3)  # fmt: skip
    with pytest.raises(InferenceError):
        await produce(first, "T", "A short text.", plan, budget, model="m", cache=cache)
    # A text this short is its own summary: the dialogue and the scene were written.
    assert len(first.spoken) == 2 and len(first.calls) == 3  # a call per line, the scene
    assert first.drawn == ["A lamp-lit teletype"]
    again = Counting()  # nothing scripted: any chat call would fail the test
    made = await produce(again, "T", "A short text.", plan, budget, model="m", cache=cache)
    cues = made.cues
    assert again.calls == [] and again.drawn == []  # script and image from the work folder
    assert again.spoken == [c.text for c in cues][2:]  # only the lines not yet spoken
    assert [c.speaker for c in cues] == ["Ada", "Bob", "Ada", "Bob", "Ada", "Bob"]
    assert made.images == {"section-0.png": picture("A lamp-lit teletype", "512x512")}
    assert png_of(made.images["section-0.png"]) == ((512, 512), colour_of("A lamp-lit teletype"))
    assert made.sections == [
        {"section": 0, "summary": "A short text.", "prompt": "A lamp-lit teletype",
         "image": "section-0.png", "source": "image model"}
    ]  # fmt: skip
    assert seconds(made.wav) == pytest.approx(cues[-1].end, 0.01)
