"""Continuous batching on the embedded engine: several requests decoded in one llama.cpp
step each, through llama-cpp-python's low-level API.

One scheduler thread owns the llama.cpp context. Each request's ``generate`` runs on its
own engine thread: it renders and tokenizes the prompt (errors raised before anything
runs), hands the tokens to the scheduler and turns the tokens that come back into
deltas (stop strings, end of generation, max_tokens, usage), all with the ``LlamaPrompt``
it holds (llama_prompt.py: the same code the single-stream backend uses). Between steps
the scheduler, following the pure policy in batch_policy.py:

- admits waiting requests into free sequence slots, preferring the slot whose cached
  tokens share the longest prefix with the new prompt (the persona's system prompt),
  and keeps that prefix's KV cache instead of computing it again;
- drops requests that finished or whose client left, freeing their slot at once;
- builds one batch: the next token of every running sequence, plus up to
  ``prefill_chunk`` prompt tokens of sequences still reading their prompt, so a long
  prompt never stalls the streams already running; a prompt's last token goes in a
  step of its own, so its logits do not depend on what the cache held (a seed repeats);
- decodes it, then samples each sequence that produced logits with that request's own
  sampler chain (llama_sampling.py: a JSON grammar, penalties, top-p, temperature,
  seed; greedy at temperature 0), made on the request's own thread before it queues;
  a request that asked for log-probabilities gets each token scored, and one that asked
  for its prompt's (a completion's echo) has every prompt position computed, its cached
  prefix not reused.

Facts about llama-cpp-python 0.3.36 this relies on: ``n_threads`` applies to one-token
batches only, every larger step uses ``n_threads_batch`` (both are set); with the
default non-unified KV cache each of ``n_seq_max`` sequences gets ``n_ctx / n_seq_max``
cells, and ``llama_decode`` returns 1 (not a negative code) when one runs out;
``llama_memory_*`` replaced ``llama_kv_self_*``; ``llama_get_logits_ith`` and
``llama_sampler_sample`` index positions of the batch whose logits flag was set.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import llama_sampling
from .base import BackendError, CancelToken, ChatMessage, Delta, Sampled, SamplingParams
from .batch_policy import Lane, Plan, choose_slot, plan_step
from .batch_seq import END, Seq, read
from .llama_prompt import LlamaPrompt, apply_lora, open_model, read_template

log = logging.getLogger(__name__)


class BatchedLlamaCpp:
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
        lora: Path | None = None,
        chat_template: Path | None = None,
        repack: str = "auto",
    ) -> None:
        self.name = name
        self.context_length = n_ctx  # per sequence
        self._lora, self._template = lora, chat_template
        self.tool_style: str | None = None  # its template's, once loaded
        self.max_parallel = slots
        self._path = path
        # The loader's own context only tokenizes; the scheduler has the real one, with
        # the loader's parameters (flash attention included) and its own sizes.
        self._loader_kwargs: dict[str, Any] = {
            "n_ctx": 256, "n_threads": n_threads, "n_threads_batch": n_threads,
            "n_batch": 8, "flash_attn": flash_attn, "repack": repack,
        }  # fmt: skip
        self._threads = (n_threads, n_threads_batch or n_threads)
        self._n_batch = max(n_batch, slots)
        self._chunk = prefill_chunk
        self._llm: Any = None
        self._prompt: LlamaPrompt | None = None
        self._ctx: Any = None
        self._batch: Any = None
        self._n_vocab = 0
        self._eog: frozenset[int] = frozenset()
        self._waiting: deque[Seq] = deque()
        self._running: list[Seq | None] = [None] * slots
        self._cached: list[list[int]] = [[] for _ in range(slots)]  # tokens in each slot's KV
        self._wake = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._scoring: list[tuple[Seq, int, int]] = []  # prompt positions to score
        self.steps = 0  # decode calls, for tests and metrics
        self.reused_tokens = 0  # prompt tokens whose KV a slot already held or copied
        self.copied_tokens = 0  # of those, copied from another slot

    # -- lifecycle -----------------------------------------------------------------

    def load(self) -> None:
        import llama_cpp
        from llama_cpp import _internals

        llm = self._llm = open_model(self._path, **self._loader_kwargs)
        self._prompt = LlamaPrompt(llm, self.context_length, read_template(self._template))
        self.tool_style = self._prompt.tool_style
        slots = self.max_parallel
        params = type(llm.context_params).from_buffer_copy(llm.context_params)
        # llama.cpp rounds each sequence's share of a non-unified cache to 256 cells.
        params.n_ctx = slots * (-(-self.context_length // 256) * 256)
        params.n_seq_max = slots
        params.n_batch = params.n_ubatch = self._n_batch
        params.n_threads, params.n_threads_batch = self._threads
        params.kv_unified = False
        try:
            self._ctx = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
        except ValueError as exc:
            raise BackendError(f"cannot make a context for {slots} sequences: {exc}") from None
        if self._lora is not None:
            apply_lora(llm, self._ctx.ctx, self._lora)
        self._batch = llama_cpp.llama_batch_init(self._n_batch, 0, 1)
        self._n_vocab = llm.n_vocab()
        self._eog = self._prompt.eog_tokens()  # once, not per token
        self._thread = threading.Thread(
            target=self._schedule, name=f"batch-{self.name}", daemon=True
        )
        self._thread.start()
        what = (self.name, self._path, slots, self.context_length, self._chunk)
        log.info("loaded %s from %s: %d sequences of %d tokens, prompt chunks of %d", *what)

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
        self._prompt = None
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    # -- the reader's side (an engine thread per request) ----------------------------

    def generate(
        self, prompt: str | list[ChatMessage], params: SamplingParams, cancel: CancelToken
    ) -> Iterator[Delta]:
        rules = self._prompt
        if self._thread is None or rules is None:
            raise BackendError("model not loaded")
        seq = Seq(rules.prepare(prompt, params), params, cancel)
        # Made here, not on the scheduler: a grammar that does not parse is this
        # request's 400, and compiling one never holds up the others' step.
        seq.sampler = llama_sampling.sampler_chain(params, self._n_vocab, self._llm._model.vocab)
        with self._wake:
            if self._closing:
                llama_sampling.free(seq.sampler)
                raise BackendError("the server is shutting down")
            self._waiting.append(seq)
            self._wake.notify()
        yield from rules.deltas(self._tokens(seq), seq.run, params, cancel)

    def _tokens(self, seq: Seq) -> Iterator[int | Sampled | list[Sampled]]:
        def alive() -> bool:
            return self._thread is not None and self._thread.is_alive()

        def wake() -> None:
            with self._wake:
                self._wake.notify()

        return read(seq, alive, wake)

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
        queue, each with the slot ``choose_slot`` picks, keeping its shared prefix."""
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
                self._finish(seq)  # frees its sampler
                continue
            tokens = seq.run.tokens
            choice = choose_slot(free, self._cached, tokens)
            # A prompt's own log-probabilities need its every position computed.
            slot, keep = choice.slot, 0 if seq.params.prompt_logprobs else choice.keep
            memory = llama_cpp.llama_get_memory(self._ctx.ctx)
            if keep and choice.donor is not None:  # another slot's prefix, copied
                # Between the streams of a non-unified cache llama.cpp copies whole
                # sequences only: the donor's all, then what follows the prefix cut.
                llama_cpp.llama_memory_seq_rm(memory, slot, -1, -1)
                llama_cpp.llama_memory_seq_cp(memory, choice.donor, slot, -1, -1)
                llama_cpp.llama_memory_seq_rm(memory, slot, keep, -1)
                self.copied_tokens += keep
            elif not llama_cpp.llama_memory_seq_rm(memory, slot, keep, -1):
                keep = 0
                llama_cpp.llama_memory_seq_rm(memory, slot, -1, -1)
            self._cached[slot] = list(tokens[:keep])
            self.reused_tokens += keep
            seq.slot, seq.fed = slot, keep
            self._running[slot] = seq

    def _step(self) -> None:
        """One decode: the batch ``plan_step`` plans, then a token for each sequence
        that produced logits."""
        import llama_cpp

        running = [s for s in self._running if s is not None]
        lanes = [Lane(len(s.run.tokens), s.fed) for s in running]
        plan = plan_step(lanes, self._n_batch, self._chunk)
        if plan.size == 0:
            return
        sampling = self._fill(running, plan)
        rc = llama_cpp.llama_decode(self._ctx.ctx, self._batch)
        self.steps += 1
        if rc != 0:  # 1: no room in the KV cache; negative: an error
            self._scoring.clear()  # no logits to score: its batch positions are gone
            log.warning("%s: llama_decode returned %d for %d tokens", self.name, rc, plan.size)
            for seq in running:
                self._cached[seq.slot] = []
                self._finish(seq, BackendError(f"the text engine failed to decode (code {rc})"))
            return
        for seq in {seq for seq, _, _ in self._scoring}:  # each prompt's rows at once
            mine = [(index, seq.run.tokens[k]) for s, index, k in self._scoring if s is seq]
            indices, tokens = [i for i, _ in mine], [t for _, t in mine]
            top = seq.params.logprobs or 0
            scores = llama_sampling.score_rows(self._ctx.ctx, indices, self._n_vocab, tokens, top)
            seq.prompt_scores.extend(scores)
        self._scoring.clear()
        for seq, index in sampling:
            self._sample(seq, index)

    def _fill(self, running: list[Seq], plan: Plan) -> list[tuple[Seq, int]]:
        """Write ``plan`` into the llama.cpp batch; returns (sequence, its logits' batch
        index) for each sequence whose next token this step computes."""
        batch = self._batch
        batch.n_tokens = 0
        sampling: list[tuple[Seq, int]] = []

        def put(token: int, pos: int, slot: int, logits: bool) -> None:
            i = batch.n_tokens
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = slot
            batch.logits[i] = logits
            batch.n_tokens = i + 1

        for lane in plan.decode:
            seq = running[lane]
            put(seq.last, len(self._cached[seq.slot]), seq.slot, True)
            self._cached[seq.slot].append(seq.last)
            sampling.append((seq, batch.n_tokens - 1))
        for lane, take in plan.prefill:
            seq = running[lane]
            tokens = seq.run.tokens
            for k in range(seq.fed, seq.fed + take):
                last = k == len(tokens) - 1
                score = seq.params.prompt_logprobs and not last  # of token k + 1
                put(tokens[k], k, seq.slot, last or score)
                if last:
                    sampling.append((seq, batch.n_tokens - 1))
                elif score:
                    self._scoring.append((seq, batch.n_tokens - 1, k + 1))
            self._cached[seq.slot].extend(tokens[seq.fed : seq.fed + take])
            seq.fed += take
        return sampling

    def _sample(self, seq: Seq, index: int) -> None:
        """The sequence's next token from the logits at ``index``, handed to its reader;
        the sequence finishes at end of generation, max_tokens or a full slot."""
        ctx = self._ctx.ctx
        token = llama_sampling.sample(seq.sampler, ctx, index, self._n_vocab)
        if seq.params.prompt_logprobs and seq.produced == 0:
            seq.out.put([Sampled(seq.run.tokens[0], None), *seq.prompt_scores])
        seq.produced += 1
        seq.last = token
        top = seq.params.logprobs
        seq.out.put(
            token if top is None else llama_sampling.score_at(ctx, index, self._n_vocab, token, top)
        )
        ended = token in self._eog and not seq.params.ignore_eos
        full = len(self._cached[seq.slot]) + 1 >= self.context_length
        if ended or seq.produced >= seq.run.max_tokens or full:
            self._finish(seq)

    def _finish(self, seq: Seq, error: BaseException | None = None) -> None:
        """Take ``seq`` out (its slot is free from the next step) and end its reader."""
        if seq.slot >= 0 and self._running[seq.slot] is seq:
            self._running[seq.slot] = None
        llama_sampling.free(seq.sampler)
        seq.sampler = None
        seq.out.put(error if error is not None else END)
