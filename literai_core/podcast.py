"""A two-host podcast episode from a text (literAI's pipeline on local models):
summaries of the text's parts -> a short dialogue per part between two hosts (an intro,
a recap every few sections, an outro) -> a scene description (image prompt) and an
image per section from the server's image model, or a Pillow title card where there is
none -> speech per line in each host's voice -> the episode folder (episode.py):
audio, timeline, transcript and images."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import re
import textwrap
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from .dialogue import section_dialogue
from .episode import Cue, Line, atomic_write, prune_episodes, render, write_episode
from .inference import Generation, Inference, InferenceError
from .settings import BotSettings, PodcastSettings
from .summarize import (
    SummaryBudget,
    SummaryError,
    count_tokens,
    is_transcript,
    opening,
    split_chunks,
    summarize,
)

log = logging.getLogger(__name__)
Stage = Callable[[str, int, int], None]  # (stage, done, total)
_SPEAKER = re.compile(r"^\s*\**\s*([A-Za-z][\w .'-]{0,30}?)\s*\**\s*:\s*(.+)$")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Host:
    name: str
    voice: str
    style: str


@dataclass(frozen=True)
class PodcastPlan:
    hosts: tuple[Host, Host]
    max_sections: int = 4
    lines_per_section: int = 4
    recap_every: int = 2
    line_tokens: int = 220
    images: bool = True  # ask the server's image model; title cards where it has none
    image_size: str = "512x512"
    temperature: float = 0.7  # the hosts' lines

    @classmethod
    def from_settings(cls, settings: PodcastSettings) -> PodcastPlan:
        a, b = settings.hosts
        return cls(
            (Host(a.name, a.voice, a.style), Host(b.name, b.voice, b.style)),
            settings.max_sections,
            settings.lines_per_section,
            settings.recap_every,
            images=settings.images,
            image_size=settings.image_size,
            temperature=settings.temperature,
        )


def new_episode_id(title: str, now: float) -> str:
    """A folder name made from the title's letters and the time (never a path)."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "episode"
    return f"{slug}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}"


@dataclass
class Episode:
    """What ``produce`` makes, ready for ``write_episode``."""

    wav: bytes
    cues: list[Cue]
    images: dict[str, bytes]
    sections: list[dict[str, object]]  # summary, image prompt, image, where it came from


def title_card(title: str, text: str, number: int) -> bytes:
    """A 1280x720 PNG with the section's number, title and summary (Pillow's own font,
    so it works offline)."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (1280, 720), (24, 28, 40))
    draw = ImageDraw.Draw(img)
    big, small = ImageFont.load_default(56), ImageFont.load_default(30)
    draw.rectangle((0, 0, 1280, 12), fill=(255, 196, 87))
    draw.text((80, 90), f"Part {number}", font=small, fill=(255, 196, 87))
    draw.text((80, 140), textwrap.shorten(title, 40), font=big, fill=(255, 255, 255))
    y = 260
    for row in textwrap.wrap(text, 62)[:9]:
        draw.text((80, y), row, font=small, fill=(210, 214, 224))
        y += 44
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


async def script(
    inference: Inference,
    title: str,
    text: str,
    plan: PodcastPlan,
    budget: SummaryBudget,
    stage: Stage | None = None,
    cache: Path | None = None,
) -> tuple[list[Line], list[str]]:
    """The episode's lines and one summary per section (kept in ``cache``, if given, so
    a resumed run does not write them again)."""
    saved = cache / "script.json" if cache is not None else None
    if saved is not None and saved.is_file():
        data = json.loads(await asyncio.to_thread(saved.read_text))
        return [Line(**ln) for ln in data["lines"]], list(data["summaries"])
    lines, summaries = await _write_script(inference, title, text, plan, budget, stage)
    if saved is not None:
        body = json.dumps({"lines": [asdict(ln) for ln in lines], "summaries": summaries})
        await asyncio.to_thread(atomic_write, saved, body.encode())
    return lines, summaries


async def _write_script(
    inference: Inference,
    title: str,
    text: str,
    plan: PodcastPlan,
    budget: SummaryBudget,
    stage: Stage | None,
) -> tuple[list[Line], list[str]]:
    chunks = split_chunks(text, budget.chunk_tokens)
    per = -(-len(chunks) // plan.max_sections)  # ceil: at most max_sections sections
    parts = ["\n\n".join(chunks[i : i + per]) for i in range(0, len(chunks), per)]
    summaries = []
    for i, part in enumerate(parts):
        if stage is not None:
            stage("summarizing", i, len(parts))
        if count_tokens(part) <= budget.summary_tokens:  # short already (a topic): as is
            summaries.append(" ".join(part.split()))
            continue
        try:
            summaries.append(await summarize(inference, part, budget, about=title))
        except SummaryError:
            # A part of a document whose summary did not hold up: its opening sentences,
            # the text's own words, stand in, so one part does not sink the episode. A
            # chat transcript has no such stand-in (its lines would be read out).
            stand_in = "" if is_transcript(part) else opening(part, budget.summary_tokens)
            if not stand_in:
                raise
            log.warning("part %d's summary did not hold up; its opening stands in", i + 1)
            summaries.append(stand_in)
    a, b = plan.hosts
    lines = [
        Line(a.name, f"Welcome! I'm {a.name}, and with me is {b.name}. Today: {title}.", 0),
        Line(b.name, "Let's get into it.", 0),
    ]
    for n, summary in enumerate(summaries):
        if stage is not None:
            stage("writing the dialogue", n, len(summaries))
        said = tuple(ln.text for ln in lines)
        talk = await section_dialogue(
            inference, title, summary, plan.hosts, plan.lines_per_section,
            said_before=said, temperature=plan.temperature,
        )  # fmt: skip
        if not talk:  # nothing usable: the summary itself, read by the first host
            talk = [(a.name, summary)]
        lines += [Line(who, what, n) for who, what in talk]
        if plan.recap_every and (n + 1) % plan.recap_every == 0 and n + 1 < len(summaries):
            lines.append(Line(b.name, f"To recap so far: {summary}", n))
    last = len(summaries) - 1
    lines += [
        Line(a.name, f"That's our look at {title}.", last),
        Line(b.name, "Thanks for listening!", last),
    ]
    return lines, summaries


async def scene_prompt(inference: Inference, title: str, summary: str) -> str:
    """One line for the image model: what a picture of this part would show."""
    prompt = [
        {
            "role": "system",
            "content": "You describe one picture for an illustrator: a single line of "
            "comma-separated visual details (setting, objects, light, style), under 40 "
            "words, no names, no text in the picture.",
        },
        {"role": "user", "content": f"{title}: {summary}"},
    ]
    gen = Generation(max_tokens=60, temperature=0.7)
    said = "".join([p async for p in inference.stream_chat(prompt, gen)])
    line = next((ln.strip(" *-\"'") for ln in said.splitlines() if ln.strip(" *-\"'")), "")
    return textwrap.shorten(line or f"{title}, {summary}", 300, placeholder="")


async def illustrate(
    inference: Inference,
    title: str,
    summaries: list[str],
    plan: PodcastPlan,
    stage: Stage | None = None,
    cache: Path | None = None,
) -> tuple[dict[str, bytes], list[dict[str, object]]]:
    """An image per section and what it shows. The image model draws each scene; where
    the server has none (or it fails for a section) a title card takes its place, so
    the episode always completes. With ``cache``, finished images are reused."""
    images: dict[str, bytes] = {}
    sections: list[dict[str, object]] = []
    drawing = plan.images
    for n, summary in enumerate(summaries):
        name = f"section-{n}.png"
        kept = cache / name if cache is not None else None
        notes = cache / f"section-{n}.json" if cache is not None else None
        if kept is not None and notes is not None and kept.is_file() and notes.is_file():
            images[name] = await asyncio.to_thread(kept.read_bytes)
            sections.append(json.loads(await asyncio.to_thread(notes.read_text)))
            continue
        if stage is not None:
            stage("drawing", n, len(summaries))
        png, prompt, source = None, "", "title card"
        if drawing:
            try:
                prompt = await scene_prompt(inference, title, summary)
                png = await inference.image(prompt, size=plan.image_size)
                source = "image model"
            except InferenceError as exc:
                if exc.not_configured:
                    drawing = False  # no image model here: title cards from now on
                else:
                    log.warning("podcast: section %d drawn as a title card: %s", n + 1, exc)
        if png is None:
            png = await asyncio.to_thread(title_card, title, summary, n + 1)
        images[name] = png
        about: dict[str, object] = {
            "section": n, "summary": summary, "prompt": prompt, "image": name, "source": source
        }  # fmt: skip
        sections.append(about)
        if kept is not None and notes is not None:
            await asyncio.to_thread(atomic_write, kept, png)
            await asyncio.to_thread(atomic_write, notes, json.dumps(about).encode())
    return images, sections


async def produce(
    inference: Inference,
    title: str,
    text: str,
    plan: PodcastPlan,
    budget: SummaryBudget,
    *,
    model: str,
    stage: Stage | None = None,
    cache: Path | None = None,
    screen: Callable[[str], str] | None = None,
) -> Episode:
    """Audio, cues (each with its section's image), the images and the sections, ready
    to write. With ``cache``, finished stages are kept there and reused by a rerun.
    ``screen`` (the content filter) has every line and summary before it is spoken,
    drawn or shown."""
    lines, summaries = await script(inference, title, text, plan, budget, stage, cache)
    if screen is not None:
        lines = [dataclasses.replace(ln, text=screen(ln.text)) for ln in lines]
        summaries = [screen(s) for s in summaries]
    images, sections = await illustrate(inference, title, summaries, plan, stage, cache)
    voices = {h.name: h.voice for h in plan.hosts}

    def speaking(done: int, total: int) -> None:
        if stage is not None:
            stage("speaking", done, total)

    wav, cues = await render(inference, lines, voices, model=model, progress=speaking, cache=cache)
    cues = [Cue(**{**c.__dict__, "image": f"section-{c.section}.png"}) for c in cues]
    return Episode(wav, cues, images, sections)


@dataclass(frozen=True)
class Recorded:
    """An episode written to its folder."""

    episode_id: str
    folder: Path
    wav: bytes
    seconds: float


async def record_episode(
    inference: Inference,
    title: str,
    text: str,
    settings: BotSettings,
    episodes: Path,
    *,
    now: float,
    stage: Stage | None = None,
    cache: Path | None = None,
    screen: Callable[[str], str] | None = None,
) -> Recorded:
    """The whole job, for ``literai podcast`` and ``!podcast`` alike: produce the episode
    of ``text`` and write it whole under ``episodes`` (``now`` names it)."""
    made = await produce(
        inference,
        title,
        text,
        PodcastPlan.from_settings(settings.podcast),
        SummaryBudget.from_settings(settings.summary),
        model=settings.podcast.speech_model,
        stage=stage,
        cache=cache,
        screen=screen,
    )
    episode_id = new_episode_id(title, now)
    folder = await asyncio.to_thread(
        write_episode, episodes, episode_id, title, made.wav, made.cues, made.images, made.sections
    )
    p = settings.podcast
    gone = await asyncio.to_thread(
        prune_episodes, episodes, p.keep_episodes, p.max_total_bytes, spare=episode_id
    )
    if gone:
        log.info("podcast: %d old episode(s) deleted (bot.podcast.keep_episodes)", len(gone))
    return Recorded(episode_id, folder, made.wav, made.cues[-1].end if made.cues else 0.0)
