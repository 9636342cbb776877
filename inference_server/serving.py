"""The logic behind the OpenAI routes: pick the engine, run it, shape the answer.

Routes call these with a parsed request; nothing here knows about HTTP transport.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from importlib.metadata import version
from typing import Any

from . import chunks, tools
from .backends.base import BackendError, BadPrompt, ChatMessage, Delta, SamplingParams
from .engine import Engine, NotReady
from .metrics import ServerMetrics
from .protocol import (
    ApiError,
    ChatCompletionRequest,
    CompletionRequest,
    new_id,
    now,
    usage,
)

Request = ChatCompletionRequest | CompletionRequest


@dataclass
class Started:
    """A generation whose first delta is in hand (so errors came before any bytes)."""

    first: Delta
    rest: AsyncIterator[Delta]
    model: str
    id: str
    created: int
    fingerprint: str  # OpenAI's system_fingerprint: which engine and build answered
    calling: str | None = None  # the answer may be tool calls, in this style (tools.py)


# The prompt, its parameters and the style of the tool calls its answer may make.
Prepared = tuple[str | list[ChatMessage], SamplingParams, str | None]


class OpenAIServing:
    def __init__(
        self, engines: dict[str, Engine], metrics: ServerMetrics, stream_interval_ms: int = 0
    ) -> None:
        self.engines = engines
        self.metrics = metrics
        self.stream_interval = stream_interval_ms / 1000

    @property
    def ready(self) -> bool:
        return all(e.ready for e in self.engines.values())

    def list_models(self) -> dict[str, Any]:
        created = now()
        return {
            "object": "list",
            "data": [
                {
                    "id": name,
                    "object": "model",
                    "created": created,
                    "owned_by": "literai",
                    "max_model_len": engine.backend.context_length,
                }
                for name, engine in self.engines.items()
            ],
        }

    def _engine(self, model: str) -> Engine:
        engine = self.engines.get(model)
        if engine is None:
            known = ", ".join(sorted(self.engines))
            raise ApiError(
                404,
                f"the model '{model}' does not exist; this server has: {known}",
                param="model",
                code="model_not_found",
            )
        return engine

    async def prepare(self, req: Request) -> Prepared:
        """The prompt and parameters a request runs with, off the event loop (a schema's
        or the tools' grammar can take a while to build); API errors for what cannot
        be honoured."""
        engine = self._engine(req.model)
        cap = engine.capacity
        if req.n > max(1, cap):
            raise ApiError(400, f"invalid value for 'n': this model runs at most {cap} "
                           "at once", param="n")  # fmt: skip
        return await asyncio.to_thread(_prepared, req, engine.backend.tool_style)

    @asynccontextmanager
    async def start(
        self, req: Request, index: int = 0, prepared: Prepared | None = None
    ) -> AsyncIterator[Started]:
        """Run a request up to its first delta; map engine trouble to API errors."""
        engine = self._engine(req.model)
        prompt, params, calling = prepared or await self.prepare(req)
        if index and params.seed is not None:  # each choice its own, repeatable draw
            params = replace(params, seed=(params.seed + index) & 0x7FFFFFFF)
        t0 = time.perf_counter()
        labels = (req.model,)
        try:
            async with engine.generation(prompt, params) as deltas:
                self.metrics.running.labels(*labels).inc()
                try:
                    first = await anext(deltas)
                    self.metrics.ttft.labels(*labels).observe(time.perf_counter() - t0)
                    self.metrics.prompt_tokens.labels(*labels).inc(first.prompt_tokens)
                    prefix = "chatcmpl" if isinstance(req, ChatCompletionRequest) else "cmpl"
                    made = (first, deltas, req.model, new_id(prefix), now())
                    yield Started(*made, fingerprint(engine), calling)
                finally:
                    self.metrics.running.labels(*labels).dec()
        except BadPrompt as exc:
            raise ApiError(400, str(exc), param=exc.param, code=exc.code) from None
        except NotReady as exc:
            raise ApiError(
                503, f"not ready: {exc}", type="server_error", code="not_ready"
            ) from None
        except BackendError as exc:
            raise ApiError(500, f"the model failed: {exc}", type="server_error") from None

    @asynccontextmanager
    async def start_all(self, req: Request) -> AsyncIterator[list[Started]]:
        """``req.n`` generations of one request, each up to its first delta (so errors
        come before any bytes); the engine batches them. Choice ``i`` samples with
        ``seed + i`` when a seed was given. Leaving the block stops them all."""
        prepared = await self.prepare(req)
        async with AsyncExitStack() as stack:
            yield [
                await stack.enter_async_context(self.start(req, i, prepared)) for i in range(req.n)
            ]

    async def complete(self, req: Request) -> dict[str, Any]:
        """A whole, non-streamed answer: ``req.n`` choices."""
        async with self.start_all(req) as runs:
            try:  # a choice that fails cancels the others and fails the request
                async with asyncio.TaskGroup() as group:
                    reading = [group.create_task(_whole(run)) for run in runs]
            except ExceptionGroup as failed:  # as itself, for start()'s error mapping
                raise failed.exceptions[0] from None
        wholes = [task.result() for task in reading]
        completion = sum(w.completion_tokens for w in wholes)
        self.metrics.completion_tokens.labels(req.model).inc(completion)
        choices = [
            self._choice(req, run, whole, i)
            for i, (run, whole) in enumerate(zip(runs, wholes, strict=True))
        ]
        run = runs[0]
        chat = isinstance(req, ChatCompletionRequest)
        return {
            "id": run.id,
            "object": "chat.completion" if chat else "text_completion",
            "created": run.created,
            "model": run.model,
            "choices": choices,
            "usage": usage(wholes[0].prompt_tokens, completion),
            "system_fingerprint": run.fingerprint,
            **({"service_tier": "default"} if chat else {}),
        }

    @staticmethod
    def _choice(req: Request, run: Started, whole: Delta, index: int) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": index, "finish_reason": whole.finish_reason}
        choice["logprobs"] = chunks.logprobs_of(req, whole)
        if isinstance(req, ChatCompletionRequest):
            choice["message"] = {
                "role": "assistant", "content": whole.text, "refusal": None, "annotations": [],
            }  # fmt: skip
            made = tools.calls(whole.text, run.calling) if run.calling else None
            if made:
                choice["message"].update(content=None, tool_calls=made)
                choice["finish_reason"] = "tool_calls"
        else:
            choice["text"] = (req.text() if req.echo else "") + whole.text
        return choice

    async def stream_all(self, req: Request, runs: list[Started]) -> AsyncIterator[dict[str, Any]]:
        """The chunks of every choice, in the order they come (each names its
        ``index``), then one usage chunk for them all when it was asked for."""
        if len(runs) == 1:
            async for chunk in self.stream_chunks(req, runs[0]):
                yield chunk
            return
        queue: asyncio.Queue[dict[str, Any] | BaseException | None] = asyncio.Queue()
        tally: dict[str, Any] = {}

        async def pump(i: int, run: Started) -> None:
            try:
                async for chunk in self.stream_chunks(req, run, i, tally):
                    await queue.put(chunk)
            except Exception as exc:  # handed to the reader: the stream fails at once
                await queue.put(exc)
            await queue.put(None)

        tasks = [asyncio.create_task(pump(i, run)) for i, run in enumerate(runs)]
        try:
            done = 0
            while done < len(runs):
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                if item is None:
                    done += 1
                else:
                    yield item
        finally:
            for task in tasks:
                task.cancel()
        if req.include_usage:
            usage_of_all = usage(tally["prompt"], tally["completion"])
            yield {**chunks.base(req, runs[0]), "choices": [], "usage": usage_of_all}

    async def stream_chunks(
        self, req: Request, run: Started, index: int = 0, tally: dict[str, Any] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Chunks for a started generation, in OpenAI's stream shape: choice ``index``;
        with ``tally`` (one of several choices), its token counts are added there
        instead of sent in a usage chunk of its own."""
        chat = isinstance(req, ChatCompletionRequest)
        base = chunks.base(req, run)
        if req.include_usage:
            base["usage"] = None

        def chunk(
            text: str | None, finish: str | None, role: bool = False, scored: Delta | None = None
        ) -> dict[str, Any]:
            return chunks.chunk(base, req, text, finish, role, scored, offset, index)

        offset = 0  # characters sent, for a completion's text offsets
        if chat:
            yield chunk("", None, role=True)
        elif isinstance(req, CompletionRequest) and req.echo:
            yield chunk(req.text(), None, scored=chunks.prompt_only(run.first))
            offset = len(req.text())
        last = run.first
        holder = tools.CallHolder(run.calling) if run.calling else None
        try:
            delta: Delta | None = run.first
            while delta is not None:
                last = delta
                if holder is not None:
                    delta = holder.feed(delta)
                if delta.text or delta.logprobs:
                    yield chunk(delta.text, None, scored=replace(delta, prompt=None))
                    offset += len(delta.text)
                if delta.finish_reason is not None and holder is not None and holder.calls:
                    calls = [{"index": k, **c} for k, c in enumerate(holder.calls)]
                    yield {**base, "choices": [{"index": index, "finish_reason": None,
                           "logprobs": None, "delta": {"tool_calls": calls}}]}  # fmt: skip
                    yield chunk(None, "tool_calls")
                elif delta.finish_reason is not None:
                    yield chunk(None if chat else "", delta.finish_reason)
                if self.stream_interval and delta.finish_reason is None:
                    # Let tokens gather (the engine coalesces what is queued) so a
                    # client parses one chunk per interval instead of one per token.
                    await asyncio.sleep(self.stream_interval)
                delta = await anext(run.rest, None)
        finally:
            self.metrics.completion_tokens.labels(req.model).inc(last.completion_tokens)
            if last.finish_reason is None:
                self.metrics.cancelled.labels(req.model).inc()
        if tally is not None:
            tally["prompt"] = last.prompt_tokens
            tally["completion"] = tally.get("completion", 0) + last.completion_tokens
        elif req.include_usage:
            yield {
                **base,
                "choices": [],
                "usage": usage(last.prompt_tokens, last.completion_tokens),
            }


def fingerprint(engine: Engine) -> str:
    """A stable id of the engine and build behind a model alias (OpenAI's
    ``system_fingerprint``): the same seed repeats an answer while it is unchanged."""
    backend = engine.backend
    what = f"{version('literai')}:{type(backend).__name__}:{backend.name}:{backend.context_length}"
    return "fp_" + hashlib.sha256(what.encode()).hexdigest()[:12]


def _prepared(req: Request, style: str | None) -> Prepared:
    """What ``OpenAIServing.prepare`` runs on a worker thread; ``style``: the model's
    own tool-call format (tools.py), None for the JSON one told in the system message."""
    if isinstance(req, CompletionRequest):
        return req.text(), req.params(), None
    style = style or tools.JSON
    plan = tools.plan(req, style)
    params = req.params()
    if plan is None:
        return req.prompt(), params, None
    if plan.structure is not None and params.structure is not None:
        raise ApiError(400, "response_format cannot be used together with tools",
                       param="response_format")  # fmt: skip
    params = replace(params, structure=params.structure or plan.structure)
    return plan.messages, params, style if plan.structure is not None else None


async def _whole(run: Started) -> Delta:
    """A started generation's deltas as one."""
    whole = run.first
    async for delta in run.rest:
        whole = whole.then(delta)
    return whole
