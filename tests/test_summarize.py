"""Map-reduce summaries: chunking by the token estimate, rounds of combining, errors
that never become text; and once end to end on the real model."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest
from ebooklib import epub

from literai_core.documents import read_document
from literai_core.inference import InferenceError, OpenAIInference
from literai_core.podcast import Host, PodcastPlan, script
from literai_core.settings import SummarySettings
from literai_core.summarize import (
    SYSTEM,
    SummaryBudget,
    SummaryError,
    count_tokens,
    opening,
    split_chunks,
    summarize,
)

from .kit.scripted import ScriptedInference
from .kit.server import API_KEY, Server, literai, write_config

STORY = "\n\n".join(
    f"Chapter {n}. The teletype in the station at Harwick printed {n * 3} lines before "
    f"dawn. Mara read each one aloud to the stationmaster, who wrote them in a ledger. "
    f"On the {n}th night the paper ran out and they used the backs of old timetables."
    for n in range(1, 13)
)


def test_chunks_fit_the_budget_and_keep_every_word_in_order() -> None:
    chunks = split_chunks(STORY, 120)
    assert len(chunks) > 3
    assert all(count_tokens(c) <= 120 for c in chunks)
    assert " ".join(" ".join(chunks).split()) == " ".join(STORY.split())


def test_chunks_cut_paragraphs_first_then_sentences_then_words() -> None:
    two = "First paragraph here.\n\nSecond paragraph here."
    assert split_chunks(two, count_tokens("First paragraph here.")) == [
        "First paragraph here.",
        "Second paragraph here.",
    ]
    sentences = "One two three. Four five six. Seven eight nine."
    assert split_chunks(sentences, 6) == ["One two three.", "Four five six.", "Seven eight nine."]
    word = "x" * 100
    assert all(count_tokens(c) <= 10 for c in split_chunks(word, 10))
    assert split_chunks("   ", 10) == []


async def test_short_text_is_one_call_long_text_is_mapped_then_combined() -> None:
    short = ScriptedInference(["The teletype printed a line."])
    text = "The teletype printed a line at dawn."
    assert await summarize(short, text) == "The teletype printed a line."
    assert len(short.calls) == 1

    chunks = split_chunks(STORY, 120)
    answers = [["Mara read the lines aloud."] for _ in chunks]
    answers.append(["Mara read the lines aloud at dawn."])
    long = ScriptedInference(*answers)
    seen: list[tuple[str, int, int]] = []
    out = await summarize(
        long,
        STORY,
        SummaryBudget(chunk_tokens=120),
        about="a story",
        progress=lambda stage, done, total: seen.append((stage, done, total)),
    )
    assert out == "Mara read the lines aloud at dawn."
    assert len(long.calls) == len(chunks) + 1
    # The text first, the instruction last.
    first = (long.calls[0].messages or [])[-1]["content"]
    assert first.startswith("Chapter 1.") and first.endswith(
        "(a story), one part of a longer text, in a few sentences."
    )
    final = (long.calls[-1].messages or [])[-1]["content"]
    assert final.startswith("Mara read the lines aloud.")
    assert final.endswith("the text above (a story) in a short paragraph.")
    assert seen[0] == ("summarizing", 0, len(chunks))
    assert seen[-1] == ("summarizing", len(chunks), len(chunks))


async def test_summary_sampling_comes_from_the_settings() -> None:
    budget = SummaryBudget.from_settings(SummarySettings(temperature=0.5))
    inference = ScriptedInference(["Mara read the lines aloud at dawn."])
    out = await summarize(inference, "At dawn Mara read the lines aloud. " * 3, budget)
    assert out == "Mara read the lines aloud at dawn."
    assert [call.gen.temperature for call in inference.calls] == [0.5]


async def test_a_sentence_the_text_does_not_support_is_dropped_at_the_configured_share() -> None:
    text = "At dawn Mara read the lines aloud to the stationmaster. " * 3
    # The second sentence: mara, read, stationmaster are in the text, night is not (3/4).
    said = "Mara read the lines aloud. Mara read to the stationmaster at night."
    loose = SummaryBudget.from_settings(SummarySettings(grounding=0.5))
    out = await summarize(ScriptedInference([said]), text, loose)
    assert out == said
    strict = SummaryBudget.from_settings(SummarySettings(grounding=0.8, chat_grounding=0.3))
    assert strict.grounding == 0.8 and strict.chat_grounding == 0.3
    out = await summarize(ScriptedInference([said]), text, strict)
    assert out == "Mara read the lines aloud."
    # A chat's summary is held to chat_grounding: paraphrase of a chat is looser.
    chat = "mara: read the lines aloud to the stationmaster\nbo: at dawn again\n" * 3
    out = await summarize(ScriptedInference([said]), chat, strict)
    assert out == said


async def test_a_summary_of_summaries_answers_to_the_whole_text_too() -> None:
    """Each round may bring in a fifth of new words; rounds on rounds would drift (0.8 of
    0.8), so a combining round's sentences are held to the original text as well."""
    parts = len(split_chunks(STORY, 200))
    # 5 of 6 content words in the text: kept; "harbour" is new.
    part = ["Mara read lines aloud to the stationmaster at the harbour."]
    # All in the parts, 3 of 5 in the text: dropped; the second sentence holds.
    final = ["Mara read harbour lines at the harbour. Mara read the lines aloud."]
    inference = ScriptedInference(*[part] * parts, final)
    out = await summarize(inference, STORY, SummaryBudget(200, 40))
    assert len(inference.calls) == parts + 1 and parts > 1
    assert out == "Mara read the lines aloud."


async def test_a_model_that_does_not_condense_stops_with_an_error() -> None:
    chunks = split_chunks(STORY, 120)
    echo = ScriptedInference(*[[c] for c in chunks])  # "summaries" as long as the text
    with pytest.raises(SummaryError, match="not getting shorter"):
        await summarize(echo, STORY, SummaryBudget(chunk_tokens=120))


async def test_a_part_the_model_cannot_summarize_stands_in_with_its_opening() -> None:
    chunks = split_chunks("# The Harwick Teletype\n\n" + STORY, 120)
    heading = ["The Harwick Teletype\n\nThe Harwick Teletype\n\nThe Harwick"]  # no sentence
    answers = [heading, heading] + [["Mara read aloud."] for _ in chunks[1:]]
    inference = ScriptedInference(*answers, ["Mara read the lines at Harwick."])
    out = await summarize(inference, "# The Harwick Teletype\n\n" + STORY, SummaryBudget(120, 40))
    assert out == "Mara read the lines at Harwick."
    final = (inference.calls[-1].messages or [])[-1]["content"]
    opening = "Chapter 1. The teletype in the station at Harwick printed 3 lines before dawn."
    assert final.startswith(f"{opening}\n\nMara read aloud.")
    # A chat's final summary that does not hold up is an error, not the transcript
    # recited; a document's is its opening sentences, its own words.
    with pytest.raises(SummaryError, match="did not hold up"):
        await summarize(ScriptedInference(heading, heading, heading), "ana: the run is on\nbo: gg")
    short = "Mara read the lines. The paper ran out at dawn. Nobody came."
    out = await summarize(
        ScriptedInference(heading, heading, heading), short, SummaryBudget(120, 12)
    )
    assert out.startswith("Mara read the lines.") and out in short  # the opening, whole


async def test_an_inference_error_is_raised_not_summarized() -> None:
    failing = ScriptedInference(["Part one."], InferenceError("the model server is down"))
    with pytest.raises(InferenceError):
        await summarize(failing, STORY, SummaryBudget(chunk_tokens=120))
    with pytest.raises(SummaryError, match="nothing to summarize"):
        await summarize(failing, " \n ")


@pytest.mark.slow
async def test_the_real_model_summarizes_a_long_text_in_rounds(server: Server) -> None:
    async with openai.AsyncOpenAI(base_url=server.v1, api_key=API_KEY, max_retries=0) as api:
        stages: list[str] = []
        out = await summarize(
            OpenAIInference(api, "smollm2"),
            STORY,
            SummaryBudget(chunk_tokens=300, summary_tokens=60),
            progress=lambda stage, done, total: stages.append(stage),
        )
    assert out.strip() and count_tokens(out) < count_tokens(STORY) / 3
    assert "summarizing" in stages


def _epub(path: Path) -> None:
    book = epub.EpubBook()
    book.set_identifier("literai-test")
    book.set_title("The Harwick Teletype")
    book.set_language("en")
    chapters = []
    for n, para in enumerate(STORY.split("\n\n")[:4], 1):
        ch = epub.EpubHtml(title=f"Chapter {n}", file_name=f"ch{n}.xhtml", lang="en")
        ch.content = f"<html><body><h1>Chapter {n}</h1><p>{para}</p></body></html>"
        book.add_item(ch)
        chapters.append(ch)
    book.toc = chapters
    book.spine = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    epub.write_epub(str(path), book)


@pytest.mark.slow
def test_literai_summarize_reads_text_and_epub_with_the_real_model(tmp_path: Path) -> None:
    story = tmp_path / "story.md"
    story.write_text("# The Harwick Teletype\n\n" + STORY)
    book = tmp_path / "story.epub"
    _epub(book)
    assert "Chapter 2." in read_document(book, 10**6)
    config = write_config(tmp_path, bot={"summary": {"chunk_tokens": 400, "summary_tokens": 60}})
    for path in (story, book):
        done = literai("summarize", str(path), "--config", str(config))
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() and "Traceback" not in done.stderr
        assert count_tokens(done.stdout) < count_tokens(STORY) / 2


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("missing.txt", None, "no such file"),
        ("empty.txt", b"  \n\n ", "there is no text in it"),
        ("tape.txt", b"\x00\x01\x02binary", "a binary file, not text"),
        ("latin1.txt", "caf\xe9".encode("latin-1"), "not UTF-8 text"),
        ("scan.pdf", b"%PDF-1.4", "unsupported type '.pdf'"),
        ("huge.txt", b"word " * 400, "too big (2,000 bytes; the limit is 1,000"),
        ("broken.epub", b"PK\x03\x04 not really", "not a readable EPUB"),
    ],
)
def test_bad_files_are_one_line(
    tmp_path: Path, name: str, content: bytes | None, said: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    config = write_config(tmp_path, bot={"summary": {"max_file_bytes": 1000}})
    done = literai("summarize", str(path), "--config", str(config))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and said in done.stderr, done.stderr


async def test_a_podcast_part_whose_summary_fails_stands_in_with_its_opening() -> None:
    hosts = (Host("Ada", "joe", ""), Host("Bob", "robot", ""))
    plan = PodcastPlan(hosts, max_sections=1, lines_per_section=2)
    budget = SummaryBudget(chunk_tokens=2000, summary_tokens=40)
    said = ["Mara read every line aloud."], ["The paper ran out at last."]
    inference = ScriptedInference(*[[SYSTEM]] * 3, *said)  # the prompt, 3 times: dropped
    _, summaries = await script(inference, "Harwick", STORY, plan, budget)
    assert summaries == [opening(STORY, 40)]
    assert summaries[0].startswith("Chapter 1. The teletype in the station at Harwick")
    # A chat transcript has no stand-in: its lines would be read out.
    chat = "\n".join(f"user{n}: the run is on, split {n} looks fine" for n in range(40))
    with pytest.raises(SummaryError, match="did not hold up"):
        await script(ScriptedInference(*[[SYSTEM]] * 3), "chat", chat, plan, budget)


async def test_a_chat_part_that_cannot_be_summarized_is_left_out_not_recited() -> None:
    chat = "\n".join(f"user{n}: the run is on, split {n} looks fine." for n in range(60))
    chunks = split_chunks(chat, 120)
    assert len(chunks) > 2
    parts = [["The split looks fine."] for _ in chunks[1:]]
    inference = ScriptedInference([SYSTEM], [SYSTEM], *parts, ["The run is on and fine."])
    out = await summarize(inference, chat, SummaryBudget(chunk_tokens=120), about="chat")
    assert out == "The run is on and fine."
    final = (inference.calls[-1].messages or [])[-1]["content"]
    assert "user0" not in final and final.startswith("The split looks fine.")
