"""Map-reduce summaries: chunking by the token estimate, rounds of combining, errors
that never become text; and once end to end on the real model."""

from __future__ import annotations

import openai
import pytest

from literai_core.inference import InferenceError, OpenAIInference
from literai_core.summarize import (
    SummaryBudget,
    SummaryError,
    count_tokens,
    split_chunks,
    summarize,
)

from .conftest import API_KEY, Server
from .test_core import ScriptedInference

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
    short = ScriptedInference(["A short summary."])
    assert await summarize(short, "The teletype printed.") == "A short summary."
    assert len(short.calls) == 1

    chunks = split_chunks(STORY, 120)
    answers = [[f"Part {i} summary."] for i in range(len(chunks))] + [["The whole story."]]
    long = ScriptedInference(*answers)
    seen: list[tuple[str, int, int]] = []
    out = await summarize(
        long,
        STORY,
        SummaryBudget(chunk_tokens=120),
        about="a story",
        progress=lambda stage, done, total: seen.append((stage, done, total)),
    )
    assert out == "The whole story."
    assert len(long.calls) == len(chunks) + 1
    first = (long.calls[0].messages or [])[-1]["content"]
    assert first.startswith("Summarize this part of a story") and "Chapter 1." in first
    final = (long.calls[-1].messages or [])[-1]["content"]
    assert "Part 0 summary." in final and final.startswith("Summarize this of a story")
    assert seen[0] == ("summarizing", 0, len(chunks))
    assert seen[-1] == ("summarizing", len(chunks), len(chunks))


async def test_a_model_that_does_not_condense_stops_with_an_error() -> None:
    chunks = split_chunks(STORY, 120)
    echo = ScriptedInference(*[[c] for c in chunks])  # "summaries" as long as the text
    with pytest.raises(SummaryError, match="not getting shorter"):
        await summarize(echo, STORY, SummaryBudget(chunk_tokens=120))


async def test_an_inference_error_is_raised_not_summarized() -> None:
    failing = ScriptedInference(["Part one."], InferenceError("the model server is down"))
    with pytest.raises(InferenceError):
        await summarize(failing, STORY, SummaryBudget(chunk_tokens=120))
    with pytest.raises(SummaryError, match="nothing to summarize"):
        await summarize(failing, " \n ")


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
