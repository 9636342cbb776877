"""The embedded CPU engine: llama.cpp through llama-cpp-python.

All methods are blocking and run on the engine's single worker thread; llama.cpp's
context is not safe to share between threads.
"""

from __future__ import annotations

import codecs
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import (
    BackendError,
    BadPrompt,
    CancelToken,
    ChatMessage,
    Delta,
    FinishReason,
    PromptTooLong,
    SamplingParams,
)
from .stops import StopMatcher

log = logging.getLogger(__name__)


class LlamaCppBackend:
    max_parallel = 1  # one llama.cpp context, one generation at a time

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
        }
        self._llm: Any = None
        self._formatter: Any = None
        self._control_texts: list[str] = []

    def load(self) -> None:
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        try:
            self._llm = llama_cpp.Llama(model_path=str(self._path), verbose=False, **self._kwargs)
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"cannot load {self._path}: {exc}") from None
        self.context_length = self._llm.n_ctx()
        template = self._llm.metadata.get("tokenizer.chat_template")
        if template:
            model = self._llm._model
            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=model.token_get_text(model.token_eos()),
                bos_token=model.token_get_text(model.token_bos()),
            )
        self._control_texts = _control_token_texts(self._llm)
        log.info("loaded %s from %s (n_ctx=%d)", self.name, self._path, self.context_length)

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    # -- prompts ---------------------------------------------------------------------

    def _render(self, prompt: str | list[ChatMessage]) -> tuple[str, tuple[str, ...], bool]:
        """(prompt text, extra stops, whether the text already has its special tokens)."""
        if isinstance(prompt, str):
            return prompt, (), False
        # Message text is data: a viewer typing "<|im_end|>" must not close the turn.
        messages = [{"role": m.role, "content": self._defuse(m.content)} for m in prompt]
        if self._formatter is None:  # a GGUF without a chat template: a plain transcript
            text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
            return text, ("\nuser:",), False
        try:
            rendered = self._formatter(messages=messages)
        except Exception as exc:  # jinja2 errors: e.g. roles that must alternate
            raise BadPrompt(
                f"the messages do not fit this model's chat template: {exc}", "messages"
            ) from None
        stop = rendered.stop
        stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
        return rendered.prompt, stops, bool(rendered.added_special)

    def _defuse(self, text: str) -> str:
        for special in self._control_texts:
            if special in text:
                text = text.replace(special, special[0] + "\u200b" + special[1:])
        return text

    # -- generation ------------------------------------------------------------------

    def generate(
        self, prompt: str | list[ChatMessage], params: SamplingParams, cancel: CancelToken
    ) -> Iterator[Delta]:
        llm = self._llm
        if llm is None:
            raise BackendError("model not loaded")
        run = self._prepare(prompt, params)
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
        yield from self._deltas(tokens, run, params, cancel)

    def _prepare(self, prompt: str | list[ChatMessage], params: SamplingParams) -> Run:
        """Render and tokenize; raise the client's mistakes before anything runs."""
        llm = self._llm
        if llm is None:
            raise BackendError("model not loaded")
        text, template_stops, has_specials = self._render(prompt)
        param = "prompt" if isinstance(prompt, str) else "messages"
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            raise BadPrompt("the text contains invalid Unicode (a lone surrogate)", param) from None
        tokens = llm.tokenize(data, add_bos=not has_specials, special=True)
        if not tokens:  # an empty prompt on a model that adds no BOS: start from BOS
            bos = llm.token_bos()
            if bos < 0:
                raise BadPrompt("the prompt is empty", param)
            tokens = [bos]
        n_prompt = len(tokens)
        room = self.context_length - n_prompt
        if room <= 0:
            raise PromptTooLong(
                f"the prompt is {n_prompt} tokens; this model's context is "
                f"{self.context_length} tokens",
                param,
            )
        max_tokens = params.max_tokens if params.max_tokens is not None else room
        if max_tokens > room:
            raise PromptTooLong(
                f"max_tokens={max_tokens} plus the prompt's {n_prompt} tokens exceeds this "
                f"model's context of {self.context_length} tokens",
                "max_tokens",
            )
        return Run(tokens, max_tokens, params.stop + template_stops)

    def _deltas(
        self, tokens: Iterator[int], run: Run, params: SamplingParams, cancel: CancelToken
    ) -> Iterator[Delta]:
        """Generated tokens as text deltas: stop strings held back and cut, end of
        generation and max_tokens applied; the final delta carries finish and usage."""
        llm = self._llm
        stops = StopMatcher(run.stops)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        is_eog = _eog_check(llm)
        n_prompt = len(run.tokens)
        produced = 0
        hit = False
        finish: FinishReason = "length"
        pending = ""
        for token in tokens:
            if cancel.cancelled:
                return
            if is_eog(token) and not params.ignore_eos:
                finish = "stop"
                break
            produced += 1
            piece = decoder.decode(llm.detokenize([token], special=False))
            emit, hit = stops.feed(piece)
            pending += emit
            if hit:
                finish = "stop"
                break
            if produced >= run.max_tokens:
                break
            if pending:
                yield Delta(pending, produced, prompt_tokens=n_prompt)
                pending = ""
        if not cancel.cancelled:
            if not hit:  # ended by EOS or length: what was held back was not a stop
                pending += stops.feed(decoder.decode(b"", final=True))[0] + stops.flush()
            yield Delta(pending, produced, finish_reason=finish, prompt_tokens=n_prompt)


@dataclass(frozen=True)
class Run:
    """A request ready to run: its prompt tokens, its token budget, its stop strings."""

    tokens: list[int]
    max_tokens: int
    stops: tuple[str, ...]


def _eog_check(llm: Any) -> Any:
    """llama.cpp's end-of-generation test (EOS, EOT, <|im_end|> ...)."""
    import llama_cpp

    vocab = llm._model.vocab
    return lambda token: bool(llama_cpp.llama_vocab_is_eog(vocab, token))


def _control_token_texts(llm: Any) -> list[str]:
    """Texts of the model's control tokens (``<|im_end|>`` ...), longest first."""
    import llama_cpp

    model = llm._model
    vocab = model.vocab
    texts = set()
    for token in range(llm.n_vocab()):
        if llama_cpp.llama_vocab_get_attr(vocab, token) & llama_cpp.LLAMA_TOKEN_ATTR_CONTROL:
            text = model.token_get_text(token)
            if len(text) > 1:
                texts.add(text)
    return sorted(texts, key=len, reverse=True)
