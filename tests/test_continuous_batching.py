"""Continuous batching in the embedded engine (inference_server/backends/batched.py):
the real model through the real server and the official client, plus in-process checks
of what only the backend can see (prefill chunks, the shared-prefix cache).

The model is the packaged weights repacked as Q4_0, the default format (``literai model
convert``): llama.cpp's Q4_0 kernels give the same greedy tokens whatever else is in the
batch. (With Q4_1 an occasional near-tie flips between a one-token and a many-token
step, so "identical alone and beside 7 others" would not hold there.)"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from inference_server.backends.base import CancelToken, ChatMessage, SamplingParams
from inference_server.backends.batched import BatchedLlamaCpp
from inference_server.backends.llama_cpp import LlamaCppBackend
from inference_server.models import convert_gguf
from literai_core.config import ModelSettings, resolve_model_path

from .conftest import Server, start_server, stop_server, write_config

SLOTS = 8
TOPICS = ["a cat", "the sea", "a teletype", "Mars", "a clock", "bread", "rain", "a violin"]
GREEDY = {"temperature": 0.0, "max_tokens": 48, "extra_body": {"ignore_eos": True}}


@pytest.fixture(scope="module")
def q4_0(tmp_path_factory: pytest.TempPathFactory) -> Path:
    packaged = resolve_model_path("smollm2", ModelSettings())
    return convert_gguf(packaged, tmp_path_factory.mktemp("model") / "smollm2.Q4_0.gguf")


@pytest.fixture(scope="module")
def batching(tmp_path_factory: pytest.TempPathFactory, q4_0: Path) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("batching")
    config = write_config(
        tmp, server={"port": 0, "max_queue": 4,
                     "models": {"smollm2": {"path": str(q4_0), "slots": SLOTS, "n_ctx": 1024}}},
    )  # fmt: skip
    server = start_server(config)
    yield server
    err = stop_server(server)
    assert "Traceback" not in err, err


def _ask(topic: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Write a short story about {topic}."}]


async def _chat(api: openai.AsyncOpenAI, topic: str, **kw: object) -> str:
    resp = await api.chat.completions.create(model="smollm2", messages=_ask(topic), **kw)  # type: ignore[call-overload]
    return str(resp.choices[0].message.content)


async def test_greedy_output_is_the_same_alone_and_beside_seven_others(
    batching: Server, q4_0: Path
) -> None:
    async with openai.AsyncOpenAI(base_url=batching.v1, api_key="x", max_retries=0) as api:
        alone = [await _chat(api, t, **GREEDY) for t in TOPICS[:2]]
        together = await asyncio.gather(*(_chat(api, t, **GREEDY) for t in TOPICS))
    assert together[:2] == alone
    assert len(set(together)) == SLOTS  # eight different stories, none empty
    assert all(len(text.split()) > 20 for text in together)
    # And the same as plain llama.cpp one request at a time, on the same file.
    single = LlamaCppBackend("single", q4_0)
    single.load()
    try:
        params = SamplingParams(max_tokens=48, temperature=0.0, ignore_eos=True)
        prompt = [ChatMessage("user", f"Write a short story about {TOPICS[0]}.")]
        plain = "".join(d.text for d in single.generate(prompt, params, CancelToken()))
    finally:
        single.close()
    assert plain == alone[0]


async def test_seeded_sampling_keeps_each_sequence_to_itself(batching: Server) -> None:
    """Sampled (temperature 0.9) with a seed: each request's text is the same alone as
    in a full batch, so no token, logit or sampler state crossed between sequences."""
    seeded = {"temperature": 0.9, "max_tokens": 32, "seed": 1234}
    async with openai.AsyncOpenAI(base_url=batching.v1, api_key="x", max_retries=0) as api:
        alone = await _chat(api, TOPICS[2], **seeded)
        patterns = ["1, 2, 3, 4, 5, 6, 7,", "a, b, c, d, e, f, g,", "10, 20, 30, 40, 50,"]
        together = await asyncio.gather(
            _chat(api, TOPICS[2], **seeded),
            *(api.completions.create(model="smollm2", prompt=p, max_tokens=12, temperature=0)
              for p in patterns),
            *(_chat(api, t, **seeded) for t in TOPICS[3:7]),
        )  # fmt: skip
    assert together[0] == alone
    counts, letters, tens = (c.choices[0].text for c in together[1:4])  # type: ignore[union-attr]
    assert "8" in counts and not any(ch in counts for ch in "hij")
    assert "h" in letters and not any(ch.isdigit() for ch in letters)
    assert "60" in tens


async def test_a_cancelled_stream_frees_its_slot_at_once(batching: Server) -> None:
    async with openai.AsyncOpenAI(base_url=batching.v1, api_key="x", max_retries=0) as api:
        streams = []
        for topic in TOPICS:  # every slot busy with a long answer
            stream = await api.chat.completions.create(
                model="smollm2", messages=_ask(topic), stream=True, max_tokens=600,
                temperature=0, extra_body={"ignore_eos": True},
            )  # fmt: skip
            await anext(aiter(stream))
            streams.append(stream)
        ninth = asyncio.ensure_future(_chat(api, "a ninth thing", max_tokens=4))
        await asyncio.sleep(1.0)
        assert not ninth.done()  # waiting in the queue: the slots are full
        await streams[0].close()  # one client leaves
        assert await asyncio.wait_for(ninth, 60)  # ...and the ninth runs long before 600
        for stream in streams[1:]:
            await stream.close()


@pytest.fixture(scope="module")
def backend(q4_0: Path) -> Iterator[BatchedLlamaCpp]:
    engine = BatchedLlamaCpp("b", q4_0, slots=4, n_ctx=1024, prefill_chunk=64)
    engine.load()
    yield engine
    engine.close()


def test_a_long_prompt_is_prefilled_in_chunks_while_others_stream(
    backend: BatchedLlamaCpp,
) -> None:
    params = SamplingParams(max_tokens=80, temperature=0.0, ignore_eos=True)
    short = [ChatMessage("user", "Count slowly from one to fifty in words.")]
    reference = "".join(d.text for d in backend.generate(short, params, CancelToken()))
    long_text = " ".join(
        f"Line {n} of the old teletype manual says nothing new." for n in range(60)
    )
    long_prompt = [ChatMessage("user", long_text + " Summarize that.")]
    steps_at: dict[str, int] = {}
    texts: list[str] = []
    started = threading.Event()

    def run_short() -> None:
        for n, delta in enumerate(backend.generate(short, params, CancelToken())):
            texts.append(delta.text)
            if n == 5:
                started.set()

    def run_long() -> None:
        started.wait(30)
        steps_at["submitted"] = backend.steps
        for delta in backend.generate(long_prompt, SamplingParams(max_tokens=4), CancelToken()):
            steps_at.setdefault("first", backend.steps)
            assert delta.prompt_tokens > 600

    threads = [threading.Thread(target=run_short), threading.Thread(target=run_long)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert "".join(texts) == reference  # the running stream was not disturbed
    # 600+ prompt tokens in chunks of 64: ten or more steps, in each of which the short
    # stream got its next token, instead of one step that stalls it.
    assert steps_at["first"] - steps_at["submitted"] >= 10


def test_a_shared_system_prompt_is_computed_once(backend: BatchedLlamaCpp) -> None:
    persona = "You are literai, a friendly bot in a Twitch chat. " * 8
    params = SamplingParams(max_tokens=4, temperature=0.0)
    before = backend.reused_tokens
    for question in ("What is a teletype?", "Who invented radio?"):
        prompt = [ChatMessage("system", persona), ChatMessage("user", question)]
        list(backend.generate(prompt, params, CancelToken()))
    assert backend.reused_tokens - before >= 80  # the persona's tokens, the second time
