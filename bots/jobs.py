"""The CLI's long jobs: ``literai summarize``, ``podcast`` and ``story``. Each reads its
input, then runs through ``run_job``: the API (a server started here unless
``client.base_url`` names one), a progress bar on stderr, Ctrl-C (exit 130) and one
line for a failure (exit 1); bad input is one line and exit 2."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from tqdm import tqdm

from literai_core.documents import DocumentError, read_document
from literai_core.episode import EpisodeError
from literai_core.filter import build_filter
from literai_core.inference import Inference, InferenceError, OpenAIInference
from literai_core.podcast import record_episode
from literai_core.story import Story, StoryKnobs, next_passage
from literai_core.summarize import SummaryBudget, SummaryError, summarize

from .api import api_client
from .config import Environment, LiteraiConfig
from .stop import Stop, until

T = TypeVar("T")


class Progress:
    """One tqdm bar on stderr that follows named stages (``progress(stage, done,
    total)``, the pipelines' callback); tqdm shows the ETA of the current stage."""

    def __init__(self, enabled: bool) -> None:
        self.bar = tqdm(total=0, file=sys.stderr, disable=not enabled, leave=False)
        self.stage: tuple[str, int] | None = None  # a disabled bar keeps no description

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.stage != (stage, total):
            self.stage = (stage, total)
            self.bar.reset(total)
            self.bar.set_description(stage)
        self.bar.n = done
        self.bar.refresh()

    def write(self, text: str) -> None:
        """A line on stdout that the bar does not garble."""
        self.bar.write(text, file=sys.stdout)

    def close(self) -> None:
        self.bar.close()


Work = Callable[[Inference, Progress], Awaitable[T]]


async def run_job(
    config: LiteraiConfig,
    env: Environment,
    work: Work[T],
    *,
    progress: bool,
    failed: Callable[[object], str],
) -> tuple[int, T | None]:
    """Run ``work`` against the API; (exit code, its result). The pipelines' own errors
    (inference, summaries, episodes, ``ValueError`` for a model that wrote nothing) and
    the disk's (a full disk) become ``failed(exc)`` on stderr and exit 1."""
    stop = Stop.installed()
    bar = Progress(progress)
    try:
        async with api_client(config, env, stop) as (client, ready):
            if not ready:
                return stop.code or 1, None
            task = asyncio.ensure_future(work(OpenAIInference(client, config.model), bar))
            try:
                await until(stop, task)
            except (InferenceError, SummaryError, EpisodeError, ValueError, OSError) as exc:
                bar.close()
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                print(f"literai: {failed(why)}", file=sys.stderr)
                return 1, None
            if not task.done() or task.cancelled():  # stopped by Ctrl-C or SIGTERM
                return 130, None
            return 0, task.result()
    finally:
        bar.close()


async def _read(file: str, config: LiteraiConfig) -> str | None:
    try:
        return await asyncio.to_thread(read_document, Path(file), config.bot.summary.max_file_bytes)
    except DocumentError as exc:
        print(f"literai: {exc}", file=sys.stderr)
        return None


async def summarize_file(
    config: LiteraiConfig, env: Environment, file: str, *, progress: bool = True
) -> int:
    """``literai summarize FILE``: the summary on stdout, a progress bar on stderr."""
    text = await _read(file, config)
    if text is None:
        return 2
    budget = SummaryBudget.from_settings(config.bot.summary)

    async def work(inference: Inference, bar: Progress) -> str:
        return await summarize(inference, text, budget, about=Path(file).name, progress=bar)

    code, summary = await run_job(
        config, env, work, progress=progress, failed=lambda e: f"cannot summarize {file}: {e}"
    )
    if summary is not None:
        print(summary)
    return code


async def make_podcast(
    config: LiteraiConfig, env: Environment, file: str, *, progress: bool = True,
    resume: bool = False,
) -> int:  # fmt: skip
    """``literai podcast FILE``: an episode folder under data/episodes, its path on stdout.
    Finished stages are kept in a work folder beside the episodes; ``resume`` reuses
    them after a stopped run of the same file and settings."""
    text = await _read(file, config)
    if text is None:
        return 2
    b = config.bot
    title = Path(file).stem.replace("_", " ").replace("-", " ").strip() or "Episode"
    episodes = Path(config.data_dir) / "episodes"
    key = hashlib.sha256(f"{text}\0{b.podcast!r}\0{b.summary!r}".encode()).hexdigest()[:16]
    cache = episodes / f".work-{key}"
    if not resume:
        await asyncio.to_thread(shutil.rmtree, cache, True)
    elif not cache.is_dir():
        print(f"literai: nothing to resume for {file}; starting afresh", file=sys.stderr)
    now = time.time()

    async def work(inference: Inference, bar: Progress) -> Path:
        filt = build_filter(b.filter, b.max_channels)
        made = await record_episode(
            inference, title, text, b, episodes, now=now, stage=bar, cache=cache,
            screen=None if filt is None else filt.screen,
        )  # fmt: skip
        await asyncio.to_thread(shutil.rmtree, cache, True)
        return made.folder

    code, folder = await run_job(
        config,
        env,
        work,
        progress=progress,
        failed=lambda e: f"cannot make the episode: {e} (--resume goes on from there)",
    )
    if folder is not None:
        print(folder)
    return code


async def write_story(
    config: LiteraiConfig, env: Environment, premise: str, rounds: int, *, progress: bool = True
) -> int:
    """``literai story PREMISE --rounds N``: passages on stdout as they are written."""
    premise = premise.strip()
    if not premise or len(premise) > 1000:
        print("literai: the premise must be 1 to 1000 characters", file=sys.stderr)
        return 2
    knobs = StoryKnobs.from_settings(config.bot.story)
    story = Story(premise)

    async def work(inference: Inference, bar: Progress) -> int:
        for n in range(rounds):
            bar("writing", n, rounds)
            passage = await next_passage(inference, story, knobs)
            bar.write(" ".join(passage.text.split()) + "\n")  # one paragraph each
        bar("writing", rounds, rounds)
        return rounds

    code, _ = await run_job(
        config,
        env,
        work,
        progress=progress,
        failed=lambda e: f"round {len(story.passages) + 1} failed: {e}",
    )
    return code
