"""What re-quantizing the packaged SmolLM2 costs in quality and buys in speed.

    .venv/bin/python -m bench.quality [--cache DIR] [--runs 3] [--threads 2]

Formats: the packaged Q4_1; Q4_0 made from it directly, through an F16 copy and through
an F32 copy (inference_server/models.py); Q8_0; and F16, the Q4_1 weights dequantized,
which is the nearest thing to a reference offline (the original BF16 weights are not
packaged, so no format here can score better than Q4_1 by more than rounding).

Perplexity: exp(mean negative log-likelihood) of tests/fixtures/perplexity.txt, in
windows of --n-ctx tokens moved by --stride; each window scores only the tokens the one
before did not, each with at least n_ctx - stride tokens of context (the first window
scores all of its own). Speed: prompt tok/s (one --n-ctx chunk, no logits kept) and
single-stream decode tok/s (--max-tokens greedy tokens, EOS disabled, bench/text.py's
raw_run), formats taken in turn each run so machine noise hits all alike; medians.
Prints a table; the last line is one JSON object with the figures and ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from bench.report import report
from bench.text import PROMPTS, raw_run
from inference_server.backends.llama_buffers import load_llama
from inference_server.model_files import resolve_model_path
from inference_server.models import DEFAULT_VIA, Via, convert_gguf
from inference_server.settings import ModelSettings

if TYPE_CHECKING:
    from llama_cpp import Llama

ROOT = Path(__file__).resolve().parent.parent
TEXT = ROOT / "tests" / "fixtures" / "perplexity.txt"


@dataclass
class Fmt:
    key: str  # in the JSON: ppl_<key>, tok_s_<key>...
    label: str
    ftype: str | None  # None: the packaged file as it is
    via: Via = "direct"
    path: Path = Path()
    convert_s: float = 0.0
    digest: str = ""
    same_as: str | None = None  # key of a byte-identical file, whose figures it shares
    repacked: int = 0
    ppl: float = float("nan")
    pp: list[float] = field(default_factory=list)
    decode: list[float] = field(default_factory=list)


def formats() -> list[Fmt]:
    return [
        Fmt("q4_1", "Q4_1 (packaged)", None),
        Fmt("q4_0_direct", "Q4_0 direct", "q4_0", "direct"),
        Fmt("q4_0_f16", "Q4_0 via F16", "q4_0", "f16"),
        Fmt("q4_0_f32", "Q4_0 via F32", "q4_0", "f32"),
        Fmt("q8_0", "Q8_0", "q8_0", "direct"),
        Fmt("iq4_nl", "IQ4_NL", "iq4_nl", "direct"),
        Fmt("q5_0", "Q5_0", "q5_0", "direct"),
        Fmt("f16", "F16 (reference)", "f16", "direct"),
    ]


def prepare(fmts: list[Fmt], src: Path, cache: Path, threads: int) -> None:
    """Convert (or reuse from the cache) each format's file; mark byte-identical ones."""
    digests: dict[str, str] = {}
    for f in tqdm(fmts, desc="convert", unit="file", file=sys.stderr):
        if f.ftype is None:
            f.path = src
        else:
            f.path = cache / f"{src.stem}.{f.ftype}-{f.via}.gguf"
            if not f.path.is_file():
                t0 = time.perf_counter()
                convert_gguf(src, f.path, f.ftype, via=f.via, threads=threads)
                f.convert_s = time.perf_counter() - t0
        f.digest = _sha256(f.path)
        f.same_as = digests.get(f.digest)
        digests.setdefault(f.digest, f.key)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def perplexity(llm: Llama, tokens: list[int], n_ctx: int, stride: int, bar: tqdm) -> float:
    """exp(mean NLL) over every token after the first, sliding windows (see module doc)."""
    nll, count, scored_to = 0.0, 0, 1  # token 0 has nothing to be predicted from
    for begin in range(0, len(tokens), stride):
        end = min(begin + n_ctx, len(tokens))
        window = tokens[begin:end]
        llm.reset()
        llm.eval(window)
        first = scored_to - begin  # the first target in this window not yet scored
        rows = llm.scores[first - 1 : len(window) - 1]  # row i predicts window[i + 1]
        targets = np.asarray(window[first:])
        top = rows.max(axis=1)
        lse = top + np.log(np.exp(rows - top[:, None]).sum(axis=1))
        nll += float((lse - rows[np.arange(len(targets)), targets]).astype(np.float64).sum())
        count += len(targets)
        scored_to = end
        bar.update(1)
        if end == len(tokens):
            break
    return float(np.exp(nll / count))


def n_windows(n_tokens: int, n_ctx: int, stride: int) -> int:
    return 1 + max(0, -(-(n_tokens - n_ctx) // stride))


@contextlib.contextmanager
def repack_count() -> Iterator[list[int]]:
    """Count llama.cpp's `repack: repack tensor ...` lines while a model loads (and keep
    its log quiet). llama-cpp-python's own log callback is put back afterwards."""
    import llama_cpp
    from llama_cpp import _logger

    count = [0]

    def on_log(_level: int, text: bytes, _user: ctypes.c_void_p) -> None:
        if text.startswith(b"repack: repack tensor"):
            count[0] += 1

    callback = llama_cpp.llama_log_callback(on_log)
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    try:
        yield count
    finally:
        llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))


def measure_quality(fmts: list[Fmt], text: bytes, args: argparse.Namespace) -> int:
    import llama_cpp

    # Perplexity is deterministic for a file, text and settings: --cache keeps it too.
    memo_path = args.cache / "perplexity.json" if args.cache else None
    memo = json.loads(memo_path.read_text()) if memo_path and memo_path.is_file() else {}
    text_id = hashlib.sha256(text).hexdigest()[:16]
    for f in fmts:
        f.ppl = memo.get(f"{f.digest[:16]}-{text_id}-{args.n_ctx}-{args.stride}", f.ppl)
    todo = [f for f in fmts if f.same_as is None and np.isnan(f.ppl)]
    vocab = llama_cpp.Llama(model_path=str(fmts[0].path), vocab_only=True, verbose=False)
    n_tokens = len(vocab.tokenize(text, add_bos=False))  # SmolLM2 adds no BOS of its own
    vocab.close()
    bar = tqdm(desc="perplexity", unit="window", file=sys.stderr)
    for f in todo:
        llm = load_llama(
            f.path,
            n_ctx=args.n_ctx,
            n_batch=args.n_ctx,
            n_threads=args.threads,
            n_threads_batch=args.threads,
            logits_all=True,
            verbose=False,
        )
        tokens = llm.tokenize(text, add_bos=False)
        bar.total = len(todo) * n_windows(n_tokens, args.n_ctx, args.stride)
        f.ppl = perplexity(llm, tokens, args.n_ctx, args.stride, bar)
        bar.set_postfix_str(f"{f.key} {f.ppl:.3f}")
        llm.close()
    bar.close()
    for f in fmts:
        if f.same_as is not None:
            f.ppl = next(g.ppl for g in fmts if g.key == f.same_as)
        memo[f"{f.digest[:16]}-{text_id}-{args.n_ctx}-{args.stride}"] = f.ppl
    if memo_path:
        memo_path.write_text(json.dumps(memo, indent=1))
    return n_tokens


def measure_speed(fmts: list[Fmt], text: bytes, args: argparse.Namespace) -> None:
    copies = [f for f in fmts if f.same_as is not None]
    fmts = [f for f in fmts if f.same_as is None]  # a byte-identical file runs the same
    llms = {}
    for f in fmts:
        with repack_count() as repacked:
            llms[f.key] = load_llama(
                f.path,
                n_ctx=2048,
                n_threads=args.threads,
                n_threads_batch=args.threads,
                verbose=False,
            )
        f.repacked = repacked[0]
    chunk = llms[fmts[0].key].tokenize(text, add_bos=False)[: args.n_ctx]
    for llm in llms.values():
        raw_run(llm, "Warm up.", 8)  # first-call costs out of the measurement
    with tqdm(total=args.runs * len(fmts), desc="speed", unit="run", file=sys.stderr) as bar:
        for i in range(args.runs):
            prompt = f"Request {i}. {PROMPTS[i % len(PROMPTS)]}\n"
            for f in fmts:  # in turn, so a noisy moment hits one run of each, not one format
                llm = llms[f.key]
                llm.reset()
                t0 = time.perf_counter()
                llm.eval(chunk)
                f.pp.append(len(chunk) / (time.perf_counter() - t0))
                llm.reset()
                f.decode.append(raw_run(llm, prompt, args.max_tokens)[1])
                bar.update(1)
    for llm in llms.values():
        llm.close()
    for f in copies:
        g = next(g for g in fmts if g.key == f.same_as)
        f.repacked, f.pp, f.decode = g.repacked, g.pp, g.decode


def table(fmts: list[Fmt], ref: Fmt) -> str:
    head = (
        f"{'format':18}{'MiB':>7}{'repacked':>9}{'perplexity':>12}{'vs Q4_1':>9}"
        f"{'prompt tok/s':>14}{'decode tok/s':>14}{'convert s':>11}"
    )
    lines = [head]
    for f in fmts:
        lines.append(
            f"{f.label:18}{f.path.stat().st_size / 2**20:>7.1f}{f.repacked:>9}"
            f"{f.ppl:>12.4f}{f.ppl / ref.ppl:>9.4f}"
            f"{statistics.median(f.pp):>14.1f}{statistics.median(f.decode):>14.1f}"
            f"{f.convert_s:>11.1f}" + (f"   (byte-identical to {f.same_as})" if f.same_as else "")
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, help="keep converted files here and reuse them")
    parser.add_argument("--runs", type=int, default=3, help="speed runs per format")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-ctx", type=int, default=512)
    parser.add_argument("--stride", type=int, default=256)
    parser.add_argument("--text", type=Path, default=TEXT)
    args = parser.parse_args()
    if args.runs < 1 or args.max_tokens < 2 or args.threads < 1:
        parser.error("--runs >= 1, --max-tokens >= 2, --threads >= 1")
    if not 0 < args.stride <= args.n_ctx:
        parser.error("0 < --stride <= --n-ctx")

    src = resolve_model_path("smollm2", ModelSettings())  # no data_dir: the packaged Q4_1
    text = args.text.read_bytes()
    fmts = formats()
    with contextlib.ExitStack() as stack:
        cache = args.cache or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        prepare(fmts, src, cache, args.threads)
        n_tokens = measure_quality(fmts, text, args)
        measure_speed(fmts, text, args)
        by = {f.key: f for f in fmts}
        ref = by["q4_1"]
        header = table(fmts, ref)

    fig: dict[str, object] = {"ppl_q4_0": round(by[f"q4_0_{DEFAULT_VIA}"].ppl, 4)}
    for f in fmts:
        fig[f"ppl_{f.key}"] = round(f.ppl, 4)
    for f in fmts:
        fig[f"tok_s_{f.key}"] = round(statistics.median(f.decode), 1)
        fig[f"pp_tok_s_{f.key}"] = round(statistics.median(f.pp), 1)
        fig[f"repacked_{f.key}"] = f.repacked
    q40 = by[f"q4_0_{DEFAULT_VIA}"]
    fig["ratio_ppl_q4_0_vs_q4_1"] = round(q40.ppl / ref.ppl, 4)
    fig["ratio_ppl_q4_0_f16_vs_direct"] = round(by["q4_0_f16"].ppl / by["q4_0_direct"].ppl, 5)
    fig["ratio_ppl_q8_0_vs_q4_1"] = round(by["q8_0"].ppl / ref.ppl, 4)
    fig["ratio_tok_s_q4_0_vs_q4_1"] = round(
        statistics.median(q40.decode) / statistics.median(ref.decode), 3
    )
    fig["ratio_pp_tok_s_q4_0_vs_q4_1"] = round(
        statistics.median(q40.pp) / statistics.median(ref.pp), 3
    )
    fig["q4_0_f32_identical_to_direct"] = by["q4_0_f32"].same_as == "q4_0_direct"
    report(
        header + "\n",
        fig,
        (),
        q4_0_via=DEFAULT_VIA,
        text_tokens=n_tokens,
        n_ctx=args.n_ctx,
        stride=args.stride,
        runs=args.runs,
        max_tokens=args.max_tokens,
        threads=args.threads,
        model=src.name,
        cpus=os.cpu_count(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
