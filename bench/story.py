"""AutoMuse's naive loop against literai's story mode, same model, same seeds, same
number of rounds, through literai's server on the embedded model.

    .venv/bin/python -m bench.story [--rounds 20] [--seed 7]

naive:   each round "continue the story" from the summary so far and the last passage,
         then "summarize the story so far"; nothing checks what it wrote.
literai: the same two calls per round, plus the repetition guard (literai_core/story.py).

Reported per side: the mean share of each passage's word 4-grams already in the earlier
text (repeat4), how many rounds repeat earlier text by more than half (bad rounds),
distinct-2 over the whole story, and seconds per round. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import openai

from bench.report import report
from bench.text import start_server
from literai_core.inference import Generation, Inference, OpenAIInference
from literai_core.story import Story, StoryKnobs, distinct, next_passage, repetition

PREMISE = (
    "A night clerk at a remote railway station finds that the old teletype prints "
    "messages from tomorrow."
)


async def naive_round(inference: Inference, story: Story, knobs: StoryKnobs) -> str:
    """AutoMuse: continue, then summarize; the same prompts, no guard."""
    n = len(story.passages)
    prompt = [
        {"role": "system", "content": "You are a storyteller. Continue the story."},
        {
            "role": "user",
            "content": (
                f"Premise: {story.premise}\n\nThe story so far, in short: {story.summary}\n\n"
                f"The last paragraph: {story.passages[-1] if story.passages else ''}\n\n"
                "Write the next paragraph."
            ),
        },
    ]
    gen = Generation(knobs.passage_tokens, knobs.temperature, seed=(knobs.seed or 0) + 1000 * n)
    text = "".join([p async for p in inference.stream_chat(prompt, gen)]).strip()
    ask = [
        {"role": "system", "content": "You keep a short, faithful summary of a story."},
        {
            "role": "user",
            "content": (
                f"Summary so far: {story.summary or story.premise}\n\nNew paragraph: {text}\n\n"
                "Write the updated summary in at most four sentences."
            ),
        },
    ]
    sgen = Generation(knobs.summary_tokens, 0.2, seed=knobs.seed)
    story.summary = "".join([p async for p in inference.stream_chat(ask, sgen)]).strip()
    story.passages.append(text)
    return text


def figures(story: Story, seconds: float) -> dict[str, float]:
    scores = [
        repetition(p, "\n\n".join([story.premise, *story.passages[:i]]))
        for i, p in enumerate(story.passages)
    ]
    return {
        "repeat4": round(sum(scores) / len(scores), 3),
        "bad_rounds": sum(1 for s in scores if s > 0.5),
        "distinct2": round(distinct(story.text()), 3),
        "s_per_round": round(seconds / len(story.passages), 2),
    }


async def compare(base_url: str, rounds: int, seed: int) -> dict[str, object]:
    knobs = StoryKnobs(seed=seed)
    async with openai.AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0) as api:
        inference = OpenAIInference(api, "smollm2")
        out: dict[str, object] = {}
        for side in ("naive", "literai"):
            story = Story(PREMISE)
            tries = 0
            start = time.monotonic()
            for i in range(rounds):
                if side == "naive":
                    await naive_round(inference, story, knobs)
                else:
                    tries += (await next_passage(inference, story, knobs)).tries
                print(f"{side:8} round {i + 1}/{rounds}", file=sys.stderr, flush=True)
            fig = figures(story, time.monotonic() - start)
            out.update({f"{side}_{k}": v for k, v in fig.items()})
            if side == "literai":
                out["literai_rewrites"] = tries - rounds
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not 1 <= args.rounds <= 200:
        parser.error("--rounds 1-200")
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_server(2, Path(tmp))
        try:
            fig = asyncio.run(compare(base + "/v1", args.rounds, args.seed))
        finally:
            proc.terminate()
            proc.wait(30)
    keys = [f"{side}_{k}" for k in ("repeat4", "bad_rounds", "distinct2", "s_per_round")
            for side in ("naive", "literai")]  # fmt: skip
    report(
        f"{'story':28}{args.rounds} rounds, seed {args.seed}",
        fig,
        [*keys, "literai_rewrites"],
        rounds=args.rounds,
        seed=args.seed,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
