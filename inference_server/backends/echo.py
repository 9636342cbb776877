"""A deterministic stand-in text engine (``engine: echo``): no model, no weights, so the
server's protocol can be tested and demonstrated anywhere.

It "generates" by repeating words, one word per token: the last user message's words
for a chat, the prompt's own words for a raw completion (``echo`` when there are none).
After the last word it ends as a model ends at its end-of-generation token
(``finish_reason: "stop"``), unless ``ignore_eos`` asks for more, in which case it starts
the words over until ``max_tokens``. Stop strings, ``max_tokens``, cancellation and the
context length are honoured as the llama.cpp engine honours them, with words counted as
tokens: a chat prompt counts the words of its transcript (``role: content`` lines and
the ``assistant:`` cue), an empty raw prompt one token (as a model's BOS).

``token_delay_s`` paces the words (the wait ends early when the request is cancelled),
so tests can keep a request running while they look at the server; ``running`` counts
the generations under way.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from .base import (
    BadPrompt,
    CancelToken,
    ChatMessage,
    Delta,
    FinishReason,
    SamplingParams,
    token_budget,
)
from .stops import StopMatcher

FILLER = "echo"


class EchoBackend:
    tool_style: str | None = None  # tools told in the system message

    def __init__(
        self,
        name: str,
        *,
        n_ctx: int = 2048,
        max_parallel: int = 1,
        token_delay_s: float = 0.0,
    ) -> None:
        self.name = name
        self.context_length = n_ctx
        self.max_parallel = max_parallel
        self.token_delay_s = token_delay_s
        self.running = 0  # generations under way, for tests
        self._lock = threading.Lock()

    def load(self) -> None:
        pass  # nothing to load

    def close(self) -> None:
        pass

    def generate(
        self, prompt: str | list[ChatMessage], params: SamplingParams, cancel: CancelToken
    ) -> Iterator[Delta]:
        if params.structure is not None:
            raise BadPrompt(
                "the echo engine repeats words and cannot hold them to JSON; use a model",
                "response_format",
            )
        if params.logprobs is not None or params.prompt_logprobs:
            raise BadPrompt("the echo engine has no probabilities to give; use a model", "logprobs")
        words, n_prompt, param = _read(prompt)
        max_tokens = token_budget(n_prompt, params.max_tokens, self.context_length, param)
        return self._counted(self._words(words, n_prompt, max_tokens, params, cancel))

    def _counted(self, deltas: Iterator[Delta]) -> Iterator[Delta]:
        """``deltas``, with ``running`` counting this generation until it ends."""
        with self._lock:
            self.running += 1
        try:
            yield from deltas
        finally:
            with self._lock:
                self.running -= 1

    def _words(
        self,
        words: list[str],
        n_prompt: int,
        max_tokens: int,
        params: SamplingParams,
        cancel: CancelToken,
    ) -> Iterator[Delta]:
        """The deltas: a word per token, stop strings held back and cut, as llama.cpp's."""
        stops = StopMatcher(params.stop)
        produced = 0
        finish: FinishReason = "length"
        hit = False
        pending = ""
        while produced < max_tokens:
            if produced and produced % len(words) == 0 and not params.ignore_eos:
                finish = "stop"  # the words ran out: the model's end of generation
                break
            if self.token_delay_s and cancel.wait(self.token_delay_s):
                return
            if cancel.cancelled:
                return
            word = words[produced % len(words)]
            produced += 1
            emit, hit = stops.feed(word if produced == 1 else " " + word)
            pending += emit
            if hit:
                finish = "stop"
                break
            if pending and produced < max_tokens:
                yield Delta(pending, produced, prompt_tokens=n_prompt)
                pending = ""
        if not hit:  # what was held back was not a stop after all
            pending += stops.flush()
        if not cancel.cancelled:
            yield Delta(pending, produced, finish_reason=finish, prompt_tokens=n_prompt)


def _read(prompt: str | list[ChatMessage]) -> tuple[list[str], int, str]:
    """(the words to repeat, the prompt's length in tokens, the field it came from)."""
    param = "prompt" if isinstance(prompt, str) else "messages"
    if isinstance(prompt, str):
        words = prompt.split()
        n_prompt = max(1, len(words))
        text = prompt
    else:
        text = "".join(f"{m.role}: {m.content}\n" for m in prompt) + "assistant:"
        users = [m.content for m in prompt if m.role == "user"]
        words = users[-1].split() if users else []
        n_prompt = len(text.split())
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadPrompt("the text contains invalid Unicode (a lone surrogate)", param) from None
    return words or [FILLER], n_prompt, param
