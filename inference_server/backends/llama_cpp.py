"""The single-stream embedded engine: llama.cpp through llama-cpp-python's high-level
``Llama.generate``, one request at a time. The server runs the batched engine
(batched.py); this one is the plain reference the batching tests compare against.

Prompts and deltas follow the rules both engines share (llama_prompt.py). All methods
are blocking and run on the engine's single worker thread; llama.cpp's context is not
safe to share between threads.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .base import BackendError, BadPrompt, CancelToken, ChatMessage, Delta, SamplingParams
from .llama_prompt import LlamaPrompt, open_model

log = logging.getLogger(__name__)


class LlamaCppBackend:
    max_parallel = 1  # one llama.cpp context, one generation at a time
    tool_style: str | None = None  # its template's, once loaded

    def __init__(
        self,
        name: str,
        path: Path,
        *,
        n_ctx: int = 2048,
        n_threads: int = 2,
        n_threads_batch: int | None = None,
        n_batch: int = 512,
        flash_attn: bool = True,
        repack: str = "auto",
    ) -> None:
        self.name = name
        self.context_length = n_ctx
        self._path = path
        self._kwargs: dict[str, Any] = {
            "n_ctx": n_ctx,
            "n_threads": n_threads,
            "n_threads_batch": n_threads_batch or n_threads,
            "n_batch": n_batch,
            "flash_attn": flash_attn,
            "repack": repack,
        }
        self._llm: Any = None
        self._prompt: LlamaPrompt | None = None

    def load(self) -> None:
        self._llm = open_model(self._path, **self._kwargs)
        self.context_length = self._llm.n_ctx()
        self._prompt = LlamaPrompt(self._llm, self.context_length)
        self.tool_style = self._prompt.tool_style
        log.info("loaded %s from %s (n_ctx=%d)", self.name, self._path, self.context_length)

    def close(self) -> None:
        self._prompt = None
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    def generate(
        self, prompt: str | list[ChatMessage], params: SamplingParams, cancel: CancelToken
    ) -> Iterator[Delta]:
        llm, rules = self._llm, self._prompt
        if llm is None or rules is None:
            raise BackendError("model not loaded")
        if params.logprobs is not None or params.prompt_logprobs:
            raise BadPrompt("log-probabilities come from the batched engine only", "logprobs")
        if params.structure is not None:  # (its grammar would not be checked for NULL)
            raise BadPrompt(
                "structured outputs come from the batched engine only", "response_format"
            )
        run = rules.prepare(prompt, params)
        llm.set_seed(params.seed if params.seed is not None else random.getrandbits(31))
        tokens = llm.generate(
            run.tokens,
            temp=params.temperature,
            top_p=params.top_p,
            top_k=0,
            min_p=0.0,
            frequency_penalty=params.frequency_penalty,
            presence_penalty=params.presence_penalty,
            reset=True,
        )
        yield from rules.deltas(tokens, run, params, cancel)
