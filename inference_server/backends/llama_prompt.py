"""What both llama.cpp engines do around the model itself: open the GGUF, render a
request's prompt (the model's chat template, with control-token texts in messages
defused), tokenize it and check that it fits, and turn the generated tokens back into
text deltas (stop strings, end of generation, max_tokens, usage).

The single-stream engine (llama_cpp.py) and the batched one (batched.py) each hold a
``LlamaPrompt``; neither inherits from the other. Its methods are blocking; the batched
engine calls them from several request threads at once, and they only read the model
(template, tokenize, detokenize). llama_cpp is imported when a model is opened.
"""

from __future__ import annotations

import codecs
import logging
import os
from collections.abc import Callable, Iterator
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
    Sampled,
    SamplingParams,
    TokenLogprob,
    token_budget,
)
from .llama_buffers import load_llama
from .stops import StopMatcher

log = logging.getLogger(__name__)


def open_model(path: Path, repack: str = "auto", **kwargs: Any) -> Any:
    """A ``llama_cpp.Llama`` for ``path``, its weights in llama.cpp's extra buffers or not
    as ``repack`` (auto, on, off) decides (llama_buffers.py); BackendError when llama.cpp
    cannot load it."""
    try:
        return load_llama(path, repack, verbose=False, **kwargs)
    except (ValueError, RuntimeError) as exc:
        raise BackendError(f"cannot load {path}: {exc}") from None


def apply_lora(llm: Any, ctx: Any, path: Path) -> None:
    """A LoRA adapter GGUF on a context of ``llm``'s model (freed with the model)."""
    import ctypes

    import llama_cpp

    adapter = llama_cpp.llama_adapter_lora_init(llm._model.model, os.fsencode(path))
    if not adapter:
        raise BackendError(f"cannot load the LoRA adapter {path} for this model")
    adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(adapter)
    scales = (ctypes.c_float * 1)(1.0)
    if llama_cpp.llama_set_adapters_lora(ctx, adapters, 1, scales) != 0:
        raise BackendError(f"cannot apply the LoRA adapter {path}")


def read_template(path: Path | None) -> str | None:
    """A chat template file's text (None: none given); BackendError if unreadable."""
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BackendError(f"cannot read the chat template {path}: {exc}") from None


def tool_style(template: str) -> str | None:
    """The tool-call format a chat template has of its own: "hermes" for the templates
    that take ``tools`` and have the model answer ``<tool_call>{json}</tool_call>``
    (Qwen2.5 and 3, Hermes 2 Pro and 3); None for any other (SmolLM3's names
    ``<tool_call>`` but takes ``xml_tools``, so it is not one)."""
    if "<tool_call>" not in template:
        return None
    import jinja2
    from jinja2 import meta

    try:  # the variables the template reads (its words about tools do not count)
        reads = meta.find_undeclared_variables(jinja2.Environment().parse(template))
    except jinja2.TemplateSyntaxError:
        return None
    return "hermes" if "tools" in reads else None


@dataclass(frozen=True)
class Run:
    """A request ready to run: its prompt tokens, its token budget, its stop strings."""

    tokens: list[int]
    max_tokens: int
    stops: tuple[str, ...]


class LlamaPrompt:
    """A loaded model's prompt and text rules; ``context_length`` is what one request
    may use (a batched engine's share of its context, per sequence)."""

    def __init__(self, llm: Any, context_length: int, template: str | None = None) -> None:
        """``template``: a Jinja chat template used instead of the GGUF's own."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llm = llm
        self.context_length = context_length
        model = llm._model
        ends = {"eos_token": model.token_get_text(model.token_eos()),
                "bos_token": model.token_get_text(model.token_bos())}  # fmt: skip

        def formatter(text: str | None, where: str) -> Any:
            try:
                return Jinja2ChatFormatter(template=text, **ends) if text else None
            except Exception as exc:  # jinja2's syntax errors
                raise BackendError(f"the chat template {where} does not compile: {exc}") from None

        meta = llm.metadata
        where = "(chat_template)" if template else "in the GGUF"
        default = template or meta.get("tokenizer.chat_template")
        self._formatter = formatter(default, where)
        # Hermes' GGUFs keep their tool-calling template apart from the default one.
        tool_use = None if template else meta.get("tokenizer.chat_template.tool_use")
        self._tool_formatter = formatter(tool_use, "tool_use in the GGUF") or self._formatter
        self.tool_style = tool_style(tool_use or default or "")
        self.control_texts = control_token_texts(llm)
        self.is_eog = eog_check(llm)

    # -- prompts ---------------------------------------------------------------------

    def render(
        self, prompt: str | list[ChatMessage], tools: tuple[dict[str, Any], ...] = ()
    ) -> tuple[str, tuple[str, ...], bool]:
        """(prompt text, extra stops, whether the text already has its special tokens);
        ``tools`` go to a template that tells them its own way (``tool_style``)."""
        if isinstance(prompt, str):
            return prompt, (), False
        # Message text is data: a viewer typing "<|im_end|>" must not close the turn.
        messages = [{"role": m.role, "content": self.defuse(m.content)} for m in prompt]
        if self._formatter is None:  # a GGUF without a chat template: a plain transcript
            text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
            return text, ("\nuser:",), False
        # With tools told, thinking is off (Qwen3's templates): the answer is the call.
        extra: dict[str, Any] = {"tools": list(tools), "enable_thinking": False} if tools else {}
        try:
            rendered = (self._tool_formatter if tools else self._formatter)(
                messages=messages, **extra
            )
        except Exception as exc:  # jinja2 errors: e.g. roles that must alternate
            raise BadPrompt(
                f"the messages do not fit this model's chat template: {exc}", "messages"
            ) from None
        stop = rendered.stop
        stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
        return rendered.prompt, stops, bool(rendered.added_special)

    def defuse(self, text: str) -> str:
        """``text`` with every control token's text broken by a zero-width space."""
        for special in self.control_texts:
            if special in text:
                text = text.replace(special, special[0] + "\u200b" + special[1:])
        return text

    def prepare(self, prompt: str | list[ChatMessage], params: SamplingParams) -> Run:
        """Render and tokenize; raise the client's mistakes before anything runs."""
        llm = self.llm
        told = params.structure.told if params.structure is not None else ()
        text, template_stops, has_specials = self.render(prompt, told)
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
        max_tokens = token_budget(len(tokens), params.max_tokens, self.context_length, param)
        return Run(tokens, max_tokens, params.stop + template_stops)

    # -- generated tokens ------------------------------------------------------------

    def deltas(
        self,
        tokens: Iterator[int | Sampled | list[Sampled]],
        run: Run,
        params: SamplingParams,
        cancel: CancelToken,
    ) -> Iterator[Delta]:
        """Generated tokens as text deltas: stop strings held back and cut, end of
        generation and max_tokens applied; the final delta carries finish and usage.
        A token may come scored (``Sampled``): its log-probability goes with the delta
        that carries its text; a list of them is the prompt's, for the first delta."""
        llm = self.llm
        stops = StopMatcher(run.stops)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        n_prompt = len(run.tokens)
        produced = 0
        hit = False
        finish: FinishReason = "length"
        pending = ""
        scores: list[TokenLogprob] | None = None if params.logprobs is None else []
        prompt: list[TokenLogprob] | None = None
        for item in tokens:
            if cancel.cancelled:
                return
            if isinstance(item, list):
                prompt = [self.as_text(s) for s in item]
                continue
            token = item if isinstance(item, int) else item.token
            if self.is_eog(token) and not params.ignore_eos:
                finish = "stop"
                break
            produced += 1
            if scores is not None and isinstance(item, Sampled):
                scores.append(self.as_text(item))
            piece = decoder.decode(llm.detokenize([token], special=False))
            emit, hit = stops.feed(piece)
            pending += emit
            if hit:
                finish = "stop"
                break
            if produced >= run.max_tokens:
                break
            if pending:
                yield Delta(
                    pending, produced, prompt_tokens=n_prompt, logprobs=scores, prompt=prompt
                )
                pending, prompt = "", None
                scores = None if scores is None else []
        if not cancel.cancelled:
            if not hit:  # ended by EOS or length: what was held back was not a stop
                pending += stops.feed(decoder.decode(b"", final=True))[0] + stops.flush()
            yield Delta(pending, produced, finish, n_prompt, logprobs=scores, prompt=prompt)

    def as_text(self, sampled: Sampled) -> TokenLogprob:
        """A scored token, and its top alternatives, as text and bytes."""

        def piece(token: int) -> tuple[str, bytes]:
            data = bytes(self.llm.detokenize([token], special=True))
            return data.decode("utf-8", errors="replace"), data

        top = tuple((*piece(t), lp) for t, lp in sampled.top)
        return TokenLogprob(*piece(sampled.token), sampled.logprob, top)

    def eog_tokens(self) -> frozenset[int]:
        """Every end-of-generation token of the vocabulary, for a set lookup per token."""
        return frozenset(t for t in range(self.llm.n_vocab()) if self.is_eog(t))


def eog_check(llm: Any) -> Callable[[int], bool]:
    """llama.cpp's end-of-generation test (EOS, EOT, <|im_end|> ...)."""
    import llama_cpp

    vocab = llm._model.vocab
    return lambda token: bool(llama_cpp.llama_vocab_is_eog(vocab, token))


def control_token_texts(llm: Any) -> list[str]:
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
