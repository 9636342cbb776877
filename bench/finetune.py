"""What ``literai train`` buys: held-out perplexity before and after, training speed, the
general answer quality kept (forgetting), and how the trained model is best served.

    .venv/bin/python -m bench.finetune [--minutes 30] [--seeds 3] [--reuse]

The corpus is the Python Language Reference as CPython ships it (``pydoc_data.topics``,
PSF license, about 465,000 characters): a technical manual, like the original ``!gpt2``
bot's Teletype manuals, present offline on every machine with the same Python. The run:

1. ``literai train`` (the real CLI, its progress bar on stderr) trains model ``pyref``
   into a data folder of its own, within ``--minutes``;
2. the server serves the base (``smollm2``, its Q8_0 copy) and ``pyref`` (merged);
   perplexity of both on the run's held-out tenth (the trainer's own split, decoded to
   text) is measured through the API (``/v1/completions`` with ``echo`` and
   ``logprobs``), and bench/answers.py's fact items go through the product's ``!ask``
   on each model (the forgetting check);
3. serving speed: 8 streams at once on ``pyref`` merged and, in a second server, on
   ``pyref`` as the base with its adapter applied at load (``server.trained_models:
   adapter``), each in turns with the base in the same server (medians of 3).

The last line is JSON: ``ppl_before``, ``ppl_after``, ``ratio_ppl``, ``s_per_1k_tokens``,
``general_fact_hit_before``/``_after``, the tok/s figures and their ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import openai

from bench import answers
from bench.report import report
from inference_server.model_files import converted_model_path
from inference_server.training.corpus import make_corpus
from tests.kit.server import start_server, stop_server, write_config

ROOT = Path(__file__).resolve().parent.parent
NAME = "pyref"


def corpus_text() -> str:
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics))


def held_texts(text: str, block: int) -> list[str]:
    """The trainer's held-out blocks (same tokenizer, same cut), as text."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(ROOT / "data" / "models" / "smollm2-hf"))
    corpus = make_corpus(
        [text], lambda t: tok(t, add_special_tokens=False)["input_ids"], tok.eos_token_id, block
    )
    return [tok.decode(b, skip_special_tokens=True) for b in corpus.held]


def train(data: Path, corpus: Path, minutes: float, config: Path) -> dict[str, Any]:
    cmd = [str(ROOT / ".venv" / "bin" / "literai"), "train", str(corpus), "--name", NAME]
    cmd += ["--minutes", str(minutes), "--config", str(config), "--force"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    manifest = json.loads((data / "trained" / NAME / "train.json").read_text())
    return {**manifest, "wall_s": time.perf_counter() - start}


async def perplexity(client: openai.AsyncOpenAI, model: str, texts: list[str]) -> float:
    total, count = 0.0, 0
    for text in texts:
        done = await client.completions.create(
            model=model, prompt=text, echo=True, logprobs=0, max_tokens=1, temperature=0
        )
        lp = done.choices[0].logprobs
        assert lp is not None and lp.token_logprobs is not None
        scored = [x for x in lp.token_logprobs[:-1] if x is not None]
        total -= sum(scored)
        count += len(scored)
    return math.exp(total / max(1, count))


async def streams(client: openai.AsyncOpenAI, model: str, n: int = 8, tokens: int = 128) -> float:
    """Total generated tok/s of ``n`` completions at once (after one warm-up)."""
    prompt = "The for statement is used to iterate over the elements of a sequence"

    async def one(i: int) -> int:
        done = await client.completions.create(
            model=model, prompt=prompt, max_tokens=tokens, temperature=0.8, seed=i
        )
        return done.usage.completion_tokens if done.usage else 0

    await one(99)
    start = time.perf_counter()
    made = await asyncio.gather(*(one(i) for i in range(n)))
    return sum(made) / (time.perf_counter() - start)


def serve(tmp: Path, data: Path, mode: str) -> Any:
    q8 = converted_model_path("smollm2", ROOT / "data")
    server = {"port": 0, "default_model": "smollm2", "trained_models": mode,
              "models": {"smollm2": {"path": str(q8), "slots": 8}}}  # fmt: skip
    return start_server(write_config(tmp, server=server, data_dir=str(data)), capture_stderr=False)


async def measure(url: str, held: list[str], seeds: int) -> dict[str, Any]:
    fig: dict[str, Any] = {}
    async with openai.AsyncOpenAI(base_url=url, api_key="none", max_retries=0) as client:
        fig["ppl_before"] = round(await perplexity(client, "smollm2", held), 3)
        fig["ppl_after"] = round(await perplexity(client, NAME, held), 3)
        fig["tok_s_base_8"], fig["tok_s_merged_8"] = await paired(client)
    answers.VARIANTS["base"] = ("smollm2", {})
    answers.VARIANTS["trained"] = (NAME, {})
    items = [json.loads(x) for x in answers.DATA.read_text().splitlines() if x.strip()]
    facts = [item for item in items if item["kind"] == "fact"]
    results, _rows = await answers.run_all(url, ["base", "trained"], facts, seeds)
    fig["general_fact_hit_before"] = results["base"]["fact_hit"]
    fig["general_fact_hit_after"] = results["trained"]["fact_hit"]
    fig["general_degenerate_after"] = results["trained"]["degenerate_rate"]
    return fig


async def paired(client: openai.AsyncOpenAI, runs: int = 3) -> tuple[float, float]:
    """Median tok/s of the base and the trained model, measured in turns."""
    base, trained = [], []
    for _ in range(runs):
        base.append(await streams(client, "smollm2"))
        trained.append(await streams(client, NAME))
    return round(sorted(base)[runs // 2], 1), round(sorted(trained)[runs // 2], 1)


async def adapter_speed(url: str) -> tuple[float, float]:
    async with openai.AsyncOpenAI(base_url=url, api_key="none", max_retries=0) as client:
        return await paired(client)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the fact items")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "bench" / "finetune")
    parser.add_argument("--reuse", action="store_true", help="measure the last trained model")
    args = parser.parse_args()
    data: Path = args.data
    data.mkdir(parents=True, exist_ok=True)
    if not (data / "models").exists():  # the converted base and HF export, shared
        os.symlink(ROOT / "data" / "models", data / "models")
    text = corpus_text()
    corpus = data / "python-reference.txt"
    corpus.write_text(text)
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), data_dir=str(data), log_level="warning")
        if args.reuse and (data / "trained" / NAME / "train.json").is_file():
            run = json.loads((data / "trained" / NAME / "train.json").read_text())
        else:
            run = train(data, corpus, args.minutes, config)
        held = held_texts(text, run["settings"]["block"])
        server = serve(Path(tmp), data, "merged")
        try:
            fig = asyncio.run(measure(server.v1, held, args.seeds))
        finally:
            stop_server(server)
        server = serve(Path(tmp), data, "adapter")
        try:
            fig["tok_s_base_8_again"], fig["tok_s_adapter_8"] = asyncio.run(
                adapter_speed(server.v1)
            )
        finally:
            stop_server(server)
    s = run["settings"]
    tokens = run["steps"] * s["batch"] * s["block"]
    fig["ratio_ppl"] = round(fig["ppl_after"] / fig["ppl_before"], 3)
    fig["s_per_1k_tokens"] = round(run["seconds"] / (tokens / 1000), 2)
    fig["train_minutes"] = round(run["seconds"] / 60, 1)
    fig["train_tokens_seen"] = tokens
    fig["stopped"] = run["stopped"]
    fig["held_loss_before"] = round(run["held_loss_before"], 4)
    fig["held_loss_best"] = round(run["held_loss_best"], 4)
    fig["ratio_merged_base"] = round(fig["tok_s_merged_8"] / fig["tok_s_base_8"], 3)
    fig["ratio_adapter_base"] = round(fig["tok_s_adapter_8"] / fig["tok_s_base_8_again"], 3)
    # Each against the base in its own server run, so a slower or faster moment of the
    # machine does not decide it.
    fig["ratio_adapter_merged"] = round(fig["ratio_adapter_base"] / fig["ratio_merged_base"], 3)
    report(
        f"finetune: {NAME} on the Python Language Reference ({len(text):,} characters), "
        f"{len(held)} held-out blocks",
        fig,
        list(fig),
        corpus_chars=len(text),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
