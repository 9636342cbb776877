"""Continuous batching on the embedded engine: several requests decoded in one llama.cpp
step each, through llama-cpp-python's low-level API.

One scheduler thread owns the llama.cpp context. Each request's ``generate`` runs on its
own engine thread: it renders and tokenizes the prompt (llama_cpp_.py's rules, errors
raised before anything runs), hands the tokens to the scheduler and turns the tokens
that come back into deltas (stop strings, end of generation, max_tokens, usage: the
same code as the single-stream backend). Between steps the scheduler:

- admits waiting requests into free sequence slots, preferring the slot whose cached
  tokens share the longest prefix with the new prompt (the persona's system prompt),
  and keeps that prefix's KV cache instead of computing it again;
- drops requests that finished or whose client left, freeing their slot at once;
- builds one batch: the next token of every running sequence, plus up to
  ``prefill_chunk`` prompt tokens of sequences still reading their prompt, so a long
  prompt never stalls the streams already running; a prompt's last token goes in a
  step of its own, so its logits do not depend on what the cache held (a seed repeats);
- decodes it, then samples each sequence that produced logits with that request's own
  sampler chain (penalties, top-p, temperature, seed; greedy at temperature 0).

Facts about llama-cpp-python 0.3.36 this relies on: ``n_threads`` applies to one-token
batches only, every larger step uses ``n_threads_batch`` (both are set); with the
default non-unified KV cache each of ``n_seq_max`` sequences gets ``n_ctx / n_seq_max``
cells, and ``llama_decode`` returns 1 (not a negative code) when one runs out;
``llama_memory_*`` replaced ``llama_kv_self_*``; ``llama_get_logits_ith`` and
``llama_sampler_sample`` index positions of the batch whose logits flag was set.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import BackendError, CancelToken, ChatMessage, Delta, SamplingParams
from .llama_cpp import LlamaCppBackend, Run, _eog_check

log = logging.getLogger(__name__)

PENALTY_LAST_N = 64  # as llama-cpp-python's high-level sampler (last_n_tokens_size)
_END = object()


@dataclass(eq=False)
class _Seq:
    """One request inside the scheduler."""

    run: Run
    params: SamplingParams
    cancel: CancelToken
    out: queue.SimpleQueue[object] = field(default_factory=queue.SimpleQueue)
    slot: int = -1
    fed: int = 0  # prompt tokens in the KV cache
    produced: int = 0
    last: int = -1  # the last sampled token, fed in the next step
    sampler: Any = None
    done: bool = False  # set by the reader: it stopped reading (stop string, cancel)

    @property
    def prefilling(self) -> bool:
        return self.fed < len(self.run.tokens)


class BatchedLlamaCpp(LlamaCppBackend):
    """llama.cpp with ``slots`` sequences decoded together; ``generate`` is thread-safe
    and blocks only its own caller."""

    def __init__(
        self,
        name: str,
        path: Path,
        *,
        n_ctx: int = 2048,
        slots: int = 8,
        n_threads: int = 2,
        n_threads_batch: int | None = None,
        n_batch: int = 512,
        prefill_chunk: int = 128,
        flash_attn: bool = True,
    ) -> None:
        # The loader's own context only tokenizes; the scheduler has the real one, with
        # the loader's parameters (flash attention included) and its own sizes.
        super().__init__(
            name, path, n_ctx=256, n_threads=n_threads, n_batch=8, flash_attn=flash_attn
        )
        self.context_length = n_ctx
        self.max_parallel = slots
        self._per_slot = n_ctx
        self._threads = (n_threads, n_threads_batch or n_threads)
        self._n_batch = max(n_batch, slots)
        self._chunk = prefill_chunk
        self._ctx: Any = None
        self._batch: Any = None
        self._n_vocab = 0
        self._eog: frozenset[int] = frozenset()
        self._waiting: deque[_Seq] = deque()
        self._running: list[_Seq | None] = [None] * slots
        self._cached: list[list[int]] = [[] for _ in range(slots)]  # tokens in each slot's KV
        self._wake = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        self.steps = 0  # decode calls, for tests and metrics
        self.reused_tokens = 0  # prompt tokens whose KV a slot already held

    # -- lifecycle -----------------------------------------------------------------

    def load(self) -> None:
        import llama_cpp
        from llama_cpp import _internals

        super().load()
        self.context_length = self._per_slot
        llm = self._llm
        slots = self.max_parallel
        params = type(llm.context_params).from_buffer_copy(llm.context_params)
        # llama.cpp rounds each sequence's share of a non-unified cache to 256 cells.
        params.n_ctx = slots * (-(-self._per_slot // 256) * 256)
        params.n_seq_max = slots
        params.n_batch = params.n_ubatch = self._n_batch
        params.n_threads, params.n_threads_batch = self._threads
        params.kv_unified = False
        try:
            self._ctx = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
        except ValueError as exc:
            raise BackendError(f"cannot make a context for {slots} sequences: {exc}") from None
        self._batch = llama_cpp.llama_batch_init(self._n_batch, 0, 1)
        self._n_vocab = llm.n_vocab()
        is_eog = _eog_check(llm)
        self._eog = frozenset(t for t in range(self._n_vocab) if is_eog(t))  # once, not per token
        self._thread = threading.Thread(
            target=self._schedule, name=f"batch-{self.name}", daemon=True
        )
        self._thread.start()
        log.info(
            "%s: %d sequences of %d tokens, prompt chunks of %d",
            self.name,
            slots,
            self._per_slot,
            self._chunk,
        )

    def close(self) -> None:
        import llama_cpp

        with self._wake:
            self._closing = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._wake:
            left = [*self._waiting, *self._running]
            self._waiting.clear()
        for seq in left:
            if seq is not None:
                self._finish(seq, BackendError("the server is shutting down"))
        if self._batch is not None:
            llama_cpp.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx is not None:
            self._ctx.close()
            self._ctx = None
        super().close()

    # -- the reader's side (an engine thread per request) ----------------------------

    def generate(
        self, prompt: str | list[ChatMessage], params: SamplingParams, cancel: CancelToken
    ) -> Iterator[Delta]:
        if self._thread is None:
            raise BackendError("model not loaded")
        seq = _Seq(self._prepare(prompt, params), params, cancel)
        with self._wake:
            if self._closing:
                raise BackendError("the server is shutting down")
            self._waiting.append(seq)
            self._wake.notify()
        yield from self._deltas(self._tokens(seq), seq.run, params, cancel)

    def _tokens(self, seq: _Seq) -> Iterator[int]:
        try:
            while True:
                try:
                    item = seq.out.get(timeout=0.25)
                except queue.Empty:
                    if seq.cancel.cancelled:
                        return
                    thread = self._thread
                    if thread is None or not thread.is_alive():
                        raise BackendError("the text engine stopped") from None
                    continue
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, int)
                yield item
        finally:  # stopped reading for whatever reason: the slot is freed next step
            seq.done = True
            with self._wake:
                self._wake.notify()

    # -- the scheduler thread --------------------------------------------------------

    def _schedule(self) -> None:
        try:
            while True:
                with self._wake:
                    while not self._closing and not self._work():
                        self._wake.wait()
                    if self._closing:
                        return
                    self._admit()
                self._step()
        except Exception as exc:  # a bug or a broken context: fail every request loudly
            log.exception("%s: the batch scheduler failed", self.name)
            with self._wake:
                self._closing = True
                pending = [*self._waiting, *self._running]
                self._waiting.clear()
            for seq in pending:
                if seq is not None:
                    self._finish(seq, BackendError(f"the text engine failed: {exc}"))

    def _work(self) -> bool:
        return bool(self._waiting) or any(s is not None for s in self._running)

    def _admit(self) -> None:
        """Free the slots of sequences whose readers left; fill free slots from the
        queue, each with the free slot that shares the longest cached prefix."""
        import llama_cpp

        for seq in self._running:
            if seq is not None and (seq.done or seq.cancel.cancelled):
                self._finish(seq)
        while self._waiting:
            free = [i for i, s in enumerate(self._running) if s is None]
            if not free:
                return
            seq = self._waiting.popleft()
            if seq.done or seq.cancel.cancelled:
                continue
            tokens = seq.run.tokens
            slot = max(free, key=lambda i: _common(self._cached[i], tokens))
            # Keep the shared prefix's KV; at least one prompt token is fed again, for
            # the logits of the first new token.
            keep = min(_common(self._cached[slot], tokens), len(tokens) - 1)
            memory = llama_cpp.llama_get_memory(self._ctx.ctx)
            if not llama_cpp.llama_memory_seq_rm(memory, slot, keep, -1):
                keep = 0
                llama_cpp.llama_memory_seq_rm(memory, slot, -1, -1)
            self._cached[slot] = list(tokens[:keep])
            self.reused_tokens += keep
            seq.slot, seq.fed = slot, keep
            self._running[slot] = seq
            seq.sampler = self._sampler(seq.params)

    def _sampler(self, params: SamplingParams) -> Any:
        """The request's own chain, as the single-stream backend samples; None for plain
        greedy (no penalties), which ``_step`` does as an argmax over the logits: the
        same token, without copying 49k candidates per sequence per step."""
        import llama_cpp

        penalties = params.frequency_penalty != 0 or params.presence_penalty != 0
        if params.temperature <= 0 and not penalties:
            return None
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        add = llama_cpp.llama_sampler_chain_add
        if penalties:
            add(
                chain,
                llama_cpp.llama_sampler_init_penalties(
                    self._n_vocab,
                    PENALTY_LAST_N,
                    1.0,
                    params.frequency_penalty,
                    params.presence_penalty,
                ),
            )
        if params.temperature <= 0:
            add(chain, llama_cpp.llama_sampler_init_greedy())
        else:
            seed = params.seed if params.seed is not None else random.getrandbits(31)
            add(chain, llama_cpp.llama_sampler_init_top_p(params.top_p, 1))
            add(chain, llama_cpp.llama_sampler_init_temp(params.temperature))
            add(chain, llama_cpp.llama_sampler_init_dist(seed & 0xFFFFFFFF))
        return chain

    def _step(self) -> None:
        """One decode: every running sequence's next token plus prompt chunks."""
        import llama_cpp
        import numpy as np

        batch = self._batch
        batch.n_tokens = 0
        sampling: list[tuple[_Seq, int]] = []  # (sequence, its logits' batch index)

        def put(token: int, pos: int, slot: int, logits: bool) -> None:
            i = batch.n_tokens
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = slot
            batch.logits[i] = logits
            batch.n_tokens = i + 1

        running = [s for s in self._running if s is not None]
        for seq in running:  # decoding sequences first: one token each, never starved
            if not seq.prefilling:
                put(seq.last, len(self._cached[seq.slot]), seq.slot, True)
                self._cached[seq.slot].append(seq.last)
                sampling.append((seq, batch.n_tokens - 1))
        room = self._n_batch - batch.n_tokens
        for seq in running:
            if not seq.prefilling or room <= 0:
                continue
            tokens = seq.run.tokens
            # The last prompt token always goes in a step of its own (one query row for
            # its sequence), as it does when a cached prefix covers the rest: the first
            # token's logits are then computed the same way whatever the cache held, so
            # a seeded request repeats. (On some CPUs a multi-row attention pass gives
            # the last row slightly different logits than a one-row pass.)
            last_alone = 1 if seq.fed == len(tokens) - 1 else len(tokens) - 1 - seq.fed
            take = min(self._chunk, room, last_alone)
            for k in range(seq.fed, seq.fed + take):
                last = k == len(tokens) - 1
                put(tokens[k], k, seq.slot, last)
                if last:
                    sampling.append((seq, batch.n_tokens - 1))
            self._cached[seq.slot].extend(tokens[seq.fed : seq.fed + take])
            seq.fed += take
            room -= take
        if batch.n_tokens == 0:
            return
        rc = llama_cpp.llama_decode(self._ctx.ctx, batch)
        self.steps += 1
        if rc != 0:  # 1: no room in the KV cache; negative: an error
            log.warning("%s: llama_decode returned %d for %d tokens", self.name, rc, batch.n_tokens)
            for seq in running:
                self._cached[seq.slot] = []
                self._finish(seq, BackendError(f"the text engine failed to decode (code {rc})"))
            return
        for seq, index in sampling:
            if seq.sampler is None:  # greedy: the first highest logit, as llama.cpp's
                row = llama_cpp.llama_get_logits_ith(self._ctx.ctx, index)
                token = int(np.ctypeslib.as_array(row, shape=(self._n_vocab,)).argmax())
            else:
                token = llama_cpp.llama_sampler_sample(seq.sampler, self._ctx.ctx, index)
            seq.produced += 1
            seq.last = token
            seq.out.put(token)
            ended = token in self._eog and not seq.params.ignore_eos
            full = len(self._cached[seq.slot]) + 1 >= self._per_slot
            if ended or seq.produced >= seq.run.max_tokens or full:
                self._finish(seq)

    def _finish(self, seq: _Seq, error: BaseException | None = None) -> None:
        """Take ``seq`` out (its slot is free from the next step) and end its reader."""
        import llama_cpp

        if seq.slot >= 0 and self._running[seq.slot] is seq:
            self._running[seq.slot] = None
        if seq.sampler is not None:
            llama_cpp.llama_sampler_free(seq.sampler)
            seq.sampler = None
        seq.out.put(error if error is not None else _END)


def _common(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
