"""Many viewers at once: 1 and 8 concurrent streams of N tokens through literai's server
(continuous batching), llama-cpp-python's own server, and vLLM's CPU server, in one run
on the same weights; plus raw llama.cpp in-process, one stream, as the floor.

    .venv/bin/pip install -e '.[bench]'   # llama-cpp-python's server, once
    .venv/bin/python -m bench.concurrency [--tokens 128] [--threads 2] [--no-vllm]

All llama.cpp engines load the same GGUF (the default: the repacked Q4_0 copy that
`literai model convert --type q4_0` makes, the format for many busy channels; made in a
temp folder if it is not there); vLLM loads the Hugging Face
folder exported from the packaged weights (`literai model export-hf`) and runs from
.venv-vllm (scripts/vllm-env.sh). Engines run one after another, never side by side.
Every request streams a completion of exactly N tokens: `ignore_eos` where the engine has
it, an EOS logit bias of -100 on llama-cpp-python's server. Per engine and concurrency:
aggregate tok/s (all tokens / wall time), time to first token p50/p95, request latency
p95. The last line is one JSON object with the figures, `ratio_1_vs_llamacpp` (literai
1 stream / raw llama.cpp in-process) and `ratio_8_vs_vllm` (literai 8 / vLLM 8).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import openai
from tqdm import tqdm

from bench.report import pct, report
from bench.text import start_server
from inference_server.backends.llama_buffers import load_llama, use_extra_buffers
from inference_server.model_files import converted_model_path, hf_folder, resolve_model_path
from inference_server.settings import ModelSettings

ROOT = Path(__file__).resolve().parent.parent
TOPICS = ["a teletype", "the sea", "a train station", "a violin", "rain", "Mars", "bread",
          "a lighthouse", "a clock", "snow"]  # fmt: skip
EOS_IDS = (0, 2)  # SmolLM2: <|endoftext|>, <|im_end|>


def _prompt(i: int) -> str:
    return f"Request {i}. Write a long, detailed story about {TOPICS[i % len(TOPICS)]}.\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench: {proc.args!r} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"bench: {url} never became healthy")


@contextmanager
def _process(cmd: list[str], health: str, log: Path, limit_s: float = 300) -> Iterator[None]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    try:
        try:
            _wait_healthy(health, proc, limit_s)
        except SystemExit as exc:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            raise SystemExit(f"{exc} (its log, {log}: {' | '.join(tail)})") from None
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _one(api: openai.AsyncOpenAI, model: str, i: int, tokens: int, extra: dict) -> tuple:  # type: ignore[type-arg]
    """(ttft_s, latency_s, tokens) of one streamed completion."""
    t0 = time.perf_counter()
    first = None
    n = 0
    stream = await api.completions.create(
        model=model, prompt=_prompt(i), max_tokens=tokens, temperature=0, stream=True,
        stream_options={"include_usage": True}, extra_body=extra,
    )  # fmt: skip
    chunks = 0
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].text:
            chunks += 1
            if first is None:
                first = time.perf_counter()
        if chunk.usage is not None:
            n = chunk.usage.completion_tokens
    n = n or chunks  # llama-cpp-python's server sends no usage: one chunk per token there
    end = time.perf_counter()
    return (first or end) - t0, end - t0, n


async def _measure(base: str, model: str, n: int, tokens: int, extra: dict, rounds: int,  # type: ignore[type-arg]
                   key: str | None = None) -> dict:  # type: ignore[type-arg]  # fmt: skip
    """``rounds`` rounds of ``n`` concurrent streams: the median round's aggregate tok/s;
    TTFT and latency percentiles over every request of every round."""
    async with openai.AsyncOpenAI(base_url=base, api_key=key or "none", max_retries=0,
                                  timeout=600) as api:  # fmt: skip
        await _one(api, model, 999, 8, extra)  # warm up: first-call costs out
        rates, rows = [], []
        for r in range(rounds):
            t0 = time.perf_counter()
            got = await asyncio.gather(
                *(_one(api, model, 100 * n + 10 * r + k, tokens, extra) for k in range(n))
            )
            rates.append(sum(g[2] for g in got) / (time.perf_counter() - t0))
            rows += got
    ttft = [r[0] for r in rows]
    return {
        "tok_s": round(statistics.median(rates), 1),
        "ttft_p50_ms": round(pct(ttft, 0.5) * 1000),
        "ttft_p95_ms": round(pct(ttft, 0.95) * 1000),
        "latency_p95_s": round(pct([r[1] for r in rows], 0.95), 2),
        "tokens": sum(r[2] for r in rows),
    }


def _engine(base: str, model: str, tokens: int, extra: dict, rounds: int,  # type: ignore[type-arg]
            key: str | None = None) -> dict[int, dict]:  # type: ignore[type-arg]  # fmt: skip
    return {n: asyncio.run(_measure(base, model, n, tokens, extra, rounds, key)) for n in (1, 8)}


def raw_llamacpp(
    path: Path, tokens: int, threads: int, rounds: int, flash_attn: bool = True
) -> float:
    """One stream in-process: tokens / wall time of a streamed completion, median of
    ``rounds`` (after one warm-up)."""
    import numpy as np

    llm = load_llama(path, n_ctx=2048, n_threads=threads, n_threads_batch=threads,
                     flash_attn=flash_attn, verbose=False)  # fmt: skip

    def no_eos(_ids, logits):  # type: ignore[no-untyped-def]
        logits[list(EOS_IDS)] = -np.inf
        return logits

    rates = []
    for i in range(rounds + 1):
        t0 = time.perf_counter()
        n = sum(1 for _ in llm.create_completion(_prompt(i), max_tokens=tokens if i else 8,
                temperature=0, stream=True, logits_processor=[no_eos]))  # fmt: skip
        if i:
            rates.append(n / (time.perf_counter() - t0))
    llm.close()
    return round(statistics.median(rates), 1)


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--slots", type=int, default=8, help="literai's batch slots")
    parser.add_argument("--model", type=Path, help="GGUF for the llama.cpp engines")
    parser.add_argument("--hf-folder", type=Path, help="HF folder for vLLM")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per engine and load")
    parser.add_argument("--no-vllm", action="store_true", help="leave vLLM out")
    args = parser.parse_args()
    if args.tokens < 2 or args.threads < 1 or args.slots < 1 or args.rounds < 1:
        parser.error("--tokens >= 2, --threads >= 1, --slots >= 1, --rounds >= 1")
    return args


def _served(step: str, args: argparse.Namespace, model: Path, tmp: Path) -> dict[int, dict]:  # type: ignore[type-arg]
    """Start one server engine (literai, llama-cpp-python's, vLLM), measure it, stop it."""
    from inference_server.backends.vllm import ManagedVllm
    from inference_server.models import export_hf

    if step == "literai":
        proc, base = start_server(args.threads, tmp, model=model, slots=args.slots)
        try:
            return _engine(base + "/v1", "smollm2", args.tokens,
                           {"ignore_eos": True}, args.rounds)  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(30)
    if step == "llama-cpp-python server":
        port = _free_port()
        # Its weights in the same buffers as literai's engine (llama_buffers.py).
        run = (
            "import runpy, llama_cpp.server\n"
            "from inference_server.backends.llama_buffers import plain_buffers\n"
            "with plain_buffers():\n"
            "    runpy.run_module('llama_cpp.server', run_name='__main__')"
        )
        server = (["-c", run] if not use_extra_buffers(model, "auto")
                  else ["-m", "llama_cpp.server"])  # fmt: skip
        cmd = [sys.executable, *server, "--model", str(model),
               "--model_alias", "smollm2", "--n_ctx", "2048", "--host", "127.0.0.1",
               "--port", str(port), "--n_threads", str(args.threads),
               "--n_threads_batch", str(args.threads),
               "--flash_attn", "true",
               # its default cuts a running stream short when the next request comes
               "--interrupt_requests", "false"]  # fmt: skip
        bias = {"logit_bias": {str(t): -100 for t in EOS_IDS}}
        with _process(cmd, f"http://127.0.0.1:{port}/v1/models", tmp / "llamacpp.log"):
            return _engine(f"http://127.0.0.1:{port}/v1", "smollm2", args.tokens,
                           bias, args.rounds)  # fmt: skip
    folder = args.hf_folder or hf_folder("smollm2", ROOT / "data")
    if not (folder / "config.json").is_file():
        folder = export_hf(resolve_model_path("smollm2", ModelSettings()), tmp / "hf")
    vllm = ManagedVllm("smollm2", folder, python=ROOT / ".venv-vllm/bin/python",
                       log_path=tmp / "vllm.log", max_parallel=16,
                       threads=args.threads, startup_timeout_s=600)  # fmt: skip
    vllm.load()
    try:
        return _engine(vllm.base_url, "smollm2", args.tokens,
                       {"ignore_eos": True}, args.rounds, vllm.api_key)  # fmt: skip
    finally:
        vllm.close()


def _report(
    args: argparse.Namespace,
    results: dict[str, dict[int, dict]],  # type: ignore[type-arg]
    raw: float,
    raw_default: float,
    model: Path,
) -> None:
    print(f"\n{args.tokens} tokens per stream, {args.threads} threads, {os.cpu_count()} cores;"
          f" raw llama.cpp in-process, 1 stream: {raw} tok/s with flash attention as every"
          f" llama.cpp engine here, {raw_default} tok/s without")  # fmt: skip
    print(f"{'engine':26}{'streams':>8}{'tok/s':>9}{'TTFT p50':>10}{'TTFT p95':>10}"
          f"{'latency p95':>13}")  # fmt: skip
    fig: dict[str, object] = {"raw_llamacpp_1_tok_s": raw,
                              "raw_llamacpp_1_tok_s_no_flash_attn": raw_default}  # fmt: skip
    short = {"literai": "literai", "llama-cpp-python server": "llamacpp_server",
             "vLLM CPU": "vllm"}  # fmt: skip
    for name, by_n in results.items():
        for n, r in by_n.items():
            print(f"{name:26}{n:>8}{r['tok_s']:>9}{r['ttft_p50_ms']:>8}ms{r['ttft_p95_ms']:>8}ms"
                  f"{r['latency_p95_s']:>12}s")  # fmt: skip
            for key in ("tok_s", "ttft_p50_ms", "ttft_p95_ms", "latency_p95_s"):
                fig[f"{short[name]}_{n}_{key}"] = r[key]
    lit = results["literai"]
    fig["ratio_1_vs_llamacpp"] = round(lit[1]["tok_s"] / raw, 3)
    fig["ratio_1_vs_llamacpp_server"] = round(
        lit[1]["tok_s"] / results["llama-cpp-python server"][1]["tok_s"], 3
    )
    if "vLLM CPU" in results:
        fig["ratio_8_vs_vllm"] = round(lit[8]["tok_s"] / results["vLLM CPU"][8]["tok_s"], 3)
    report("", fig, [], model=model.name)


def main() -> int:
    args = _args()
    from inference_server.models import convert_gguf

    tmp = Path(tempfile.mkdtemp(prefix="literai-bench-"))
    model = args.model or converted_model_path("smollm2", ROOT / "data", "q4_0")
    if not model.is_file():
        model = convert_gguf(
            resolve_model_path("smollm2", ModelSettings()), tmp / "model.Q4_0.gguf"
        )
    results: dict[str, dict[int, dict]] = {}  # type: ignore[type-arg]
    steps = ["raw llama.cpp", "literai", "llama-cpp-python server"]
    if not args.no_vllm:
        steps.append("vLLM CPU")
    bar = tqdm(steps, desc="engines", file=sys.stderr)
    for step in bar:
        bar.set_description(step)
        if step == "raw llama.cpp":
            raw = raw_llamacpp(model, args.tokens, args.threads, args.rounds)
            raw_default = raw_llamacpp(
                model, args.tokens, args.threads, args.rounds, flash_attn=False
            )
        else:
            results[step] = _served(step, args, model, tmp)
    _report(args, results, raw, raw_default, model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
