"""Everything a viewer can make grow has a limit: the work one !summary costs, a story's
state, the episodes kept on disk, what an EPUB may inflate to; and a chapter listed
twice is read once."""

from __future__ import annotations

import json
import os
import time
import zipfile
from pathlib import Path

import pytest

from literai_core.chat import ChatLine
from literai_core.commands.summary import recent_transcript
from literai_core.documents import DocumentError, read_document
from literai_core.episode import Cue, prune_episodes, write_episode
from literai_core.settings import SummarySettings
from literai_core.story import Story, StoryKnobs, next_passage
from literai_core.summarize import count_tokens, split_chunks

from .kit.scripted import ScriptedInference


def test_one_summary_costs_at_most_max_chunks_however_long_the_history() -> None:
    s = SummarySettings(chunk_tokens=100, max_chunks=3)
    lines = [ChatLine("twitch", "#c", f"u{i}", f"message number {i} " * 5, i) for i in range(2000)]
    transcript = recent_transcript(lines, s)
    assert len(split_chunks(transcript, s.chunk_tokens)) <= s.max_chunks
    assert transcript.endswith("u1999: " + "message number 1999 " * 5)  # the latest kept
    assert count_tokens(transcript) <= 3 * 100


async def test_a_story_keeps_its_last_passages_only() -> None:
    story = Story("A lighthouse keeper.")
    knobs = StoryKnobs(retries=0, max_passages=3)
    for i in range(6):
        inference = ScriptedInference([f"Passage {i} tells of event {i} at the lighthouse."], ["S"])
        await next_passage(inference, story, knobs)
    assert story.passages == [
        f"Passage {i} tells of event {i} at the lighthouse." for i in (3, 4, 5)
    ]


def _episode(folder: Path, name: str, size: int, when: float) -> None:
    write_episode(folder, name, name, b"x" * size, [Cue(0, "Ada", "Hi.", 0, 0.0, 1.0)])
    os.utime(folder / name, (when, when))


def test_old_episodes_go_by_count_and_by_bytes(tmp_path: Path) -> None:
    now = time.time()
    for i in range(5):
        _episode(tmp_path, f"ep-{i}", 1000, now - 100 + i)
    (tmp_path / ".ep-5-writing").mkdir()  # one being written: never touched
    assert prune_episodes(tmp_path, keep=3, max_bytes=10**9, spare="ep-4") == ["ep-0", "ep-1"]
    assert prune_episodes(tmp_path, keep=3, max_bytes=2500, spare="ep-4") == ["ep-2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".ep-5-writing", "ep-3", "ep-4"]
    timeline = json.loads((tmp_path / "ep-4" / "timeline.json").read_text())
    assert timeline["id"] == "ep-4"


def _epub(path: Path, chapter: bytes, spine_refs: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "META-INF/container.xml",
            '<container><rootfiles><rootfile full-path="book.opf"/></rootfiles></container>',
        )
        refs = '<itemref idref="c1"/>' * spine_refs
        z.writestr(
            "book.opf",
            '<package><manifest><item id="c1" href="c1.xhtml"/></manifest>'
            f"<spine>{refs}</spine></package>",
        )
        z.writestr("c1.xhtml", chapter)


def test_an_epub_is_bounded_by_what_it_inflates_to_and_reads_a_chapter_once(
    tmp_path: Path,
) -> None:
    bomb = tmp_path / "bomb.epub"
    _epub(bomb, b"<p>" + b"a" * 5_000_000 + b"</p>", 1)
    assert bomb.stat().st_size < 20_000  # small on disk
    with pytest.raises(DocumentError, match="inflates past 1,000,000 bytes"):
        read_document(bomb, 1_000_000)
    repeated = tmp_path / "repeated.epub"
    _epub(repeated, b"<p>The one chapter.</p>", 50)
    assert read_document(repeated, 1_000_000) == "The one chapter."
