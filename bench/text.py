"""Text generation: raw llama-cpp-python in-process vs the same model through literai's
server over HTTP with the official openai client, in one run, same model and threads.

    .venv/bin/python -m bench.text [--runs 5] [--max-tokens 128] [--threads 2]

Runs alternate (raw, server, raw, server, ...) so machine noise hits both alike. Run i
gives both sides the same new prompt (so neither reuses a cached prefix the other lacks)
and greedy decoding with EOS disabled, so both generate exactly --max-tokens tokens.
Prints a table; the last line is one JSON object with the figures and ratios.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import openai

from inference_server.backends.llama_buffers import load_llama
from inference_server.model_files import resolve_model_path
from inference_server.settings import ModelSettings, ServerSettings
from tests.kit.server import start_server as launch
from tests.kit.server import write_config

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = [
    "Write a short story about a teletype that learned to talk.",
    "Explain how a steam engine works to a curious child.",
    "Describe a busy train station at dawn.",
    "List some ideas for a rainy afternoon, with reasons.",
    "Tell the history of the typewriter in a few paragraphs.",
    "Describe the sea from the point of view of a lighthouse keeper.",
    "Explain why the sky is blue.",
    "Write a letter from a cat to its owner.",
]


def _prompt(i: int) -> str:
    return f"Request {i}. {PROMPTS[i % len(PROMPTS)]}\n"


def raw_run(llm, prompt: str, max_tokens: int) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    """(ttft_s, decode_tok_s, tokens) for one streamed completion in-process."""
    eos = llm.token_eos()

    def no_eos(_ids, logits):  # type: ignore[no-untyped-def]
        logits[eos] = -np.inf
        return logits

    t0 = time.perf_counter()
    stamps = []
    for _ in llm.create_completion(
        prompt, max_tokens=max_tokens, temperature=0, stream=True, logits_processor=[no_eos]
    ):
        stamps.append(time.perf_counter())
    return stamps[0] - t0, (max_tokens - 1) / (stamps[-1] - stamps[0]), max_tokens


def server_run(client: openai.OpenAI, prompt: str, max_tokens: int) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    stamps = []
    tokens = 0
    stream = client.completions.create(
        model="smollm2",
        prompt=prompt,
        max_tokens=max_tokens,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"ignore_eos": True},
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].text:
            stamps.append(time.perf_counter())
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    return stamps[0] - t0, (tokens - 1) / (stamps[-1] - stamps[0]), tokens


def start_server(
    threads: int,
    tmp: Path,
    interval_ms: int | None = None,
    speech_threads: int | None = None,
    model: Path | None = None,
    slots: int | None = None,
) -> tuple[subprocess.Popen[str], str]:
    """literai's server as a subprocess on a free port; (process, base URL) once healthy.
    ``model``: the GGUF it loads (default: what the server picks in ./data); ``slots``:
    sequences it batches (default: the config's). Started by the tests' launcher."""
    settings: dict[str, object] = {"n_threads": threads}
    if model is not None:
        settings["path"] = str(model)
    if slots is not None:
        settings["slots"] = slots
    server: dict[str, object] = {
        "port": 0,
        "api_key_env": "LITERAI_BENCH_NO_KEY",
        "models": {"smollm2": settings},
    }
    if speech_threads is not None:
        server["speech"] = {"n_threads": speech_threads}
    if interval_ms is not None:
        server["stream_interval_ms"] = interval_ms
    try:
        started = launch(write_config(tmp, server=server), capture_stderr=False)
    except RuntimeError as exc:
        raise SystemExit(f"bench: {exc}") from None
    return started.proc, started.base_url


def _measure(
    args: argparse.Namespace, path: Path
) -> tuple[list[tuple[float, float, int]], list[tuple[float, float, int]]]:
    """Alternating raw and server runs on the same file: (raw rows, server rows)."""

    llm = load_llama(
        path,
        n_ctx=2048,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        flash_attn=ServerSettings().models["smollm2"].flash_attn,  # as the server runs it
        verbose=False,
    )
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_server(args.threads, Path(tmp), args.stream_interval_ms, model=path)
        client = openai.OpenAI(base_url=base + "/v1", api_key="none", max_retries=0)
        try:
            raw_run(llm, "Warm up.", 8)  # first-call costs out of the measurement
            server_run(client, "Warm up.", 8)
            raw, srv = [], []
            for i in range(args.runs):
                # The same prompt on both sides: prompt length drives TTFT. Each side
                # has its own KV cache, so neither gets the other's prefix for free.
                raw.append(raw_run(llm, _prompt(i), args.max_tokens))
                srv.append(server_run(client, _prompt(i), args.max_tokens))
                print(
                    f"run {i + 1}/{args.runs}: raw {raw[-1][1]:6.1f} tok/s, "
                    f"server {srv[-1][1]:6.1f} tok/s",
                    file=sys.stderr,
                    flush=True,
                )
        finally:
            proc.terminate()
            proc.wait(30)
    return raw, srv


def _report(
    args: argparse.Namespace,
    raw: list[tuple[float, float, int]],
    srv: list[tuple[float, float, int]],
    path: Path,
) -> None:
    """The table and the JSON line, from medians of the runs."""

    def med(rows: list[tuple[float, float, int]], k: int) -> float:
        return statistics.median(r[k] for r in rows)

    fig = {
        "decode_tok_s_raw": round(med(raw, 1), 1),
        "decode_tok_s_server": round(med(srv, 1), 1),
        "ttft_ms_raw": round(med(raw, 0) * 1000, 1),
        "ttft_ms_server": round(med(srv, 0) * 1000, 1),
    }
    fig["ratio_decode"] = round(fig["decode_tok_s_server"] / fig["decode_tok_s_raw"], 3)
    fig["ttft_delta_ms"] = round(fig["ttft_ms_server"] - fig["ttft_ms_raw"], 1)
    print(f"\n{'':24}{'raw llama-cpp':>15}{'literai server':>16}{'ratio/delta':>13}")
    print(
        f"{'decode tok/s (median)':24}{fig['decode_tok_s_raw']:>15}"
        f"{fig['decode_tok_s_server']:>16}{fig['ratio_decode']:>13}"
    )
    print(
        f"{'TTFT ms (median)':24}{fig['ttft_ms_raw']:>15}{fig['ttft_ms_server']:>16}"
        f"{fig['ttft_delta_ms']:>+13}"
    )
    print(
        json.dumps(
            {
                **fig,
                "runs": args.runs,
                "max_tokens": args.max_tokens,
                "threads": args.threads,
                "stream_interval_ms": args.stream_interval_ms
                if args.stream_interval_ms is not None
                else ServerSettings().stream_interval_ms,
                "model": path.name,
                "cpus": os.cpu_count(),
                "date": datetime.date.today().isoformat(),
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--stream-interval-ms",
        type=int,
        default=None,
        help="server.stream_interval_ms for the server run (default: the server's default)",
    )
    args = parser.parse_args()
    if args.runs < 1 or args.max_tokens < 2 or args.threads < 1:
        parser.error("--runs >= 1, --max-tokens >= 2, --threads >= 1")

    # The file the server would load (the Q8_0 copy when `literai model convert` made
    # it), and both sides load that same file.
    path = resolve_model_path("smollm2", ModelSettings(), ROOT / "data")
    raw, srv = _measure(args, path)
    _report(args, raw, srv, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
