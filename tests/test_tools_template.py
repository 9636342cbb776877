"""Tool calls in a model's own template format: a chat template that takes ``tools`` and
has the model answer ``<tool_call>`` blocks (Qwen's and Hermes' shape,
tests/fixtures/hermes_tools.jinja, set by ``chat_template``) gets the tools and the
earlier calls and results its own way, and the calls it writes are held to that format
and come back in OpenAI's shape; with the real model through the real server."""

from __future__ import annotations

import ctypes
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from inference_server import tools
from inference_server.backends.base import BackendError, Delta
from inference_server.backends.llama_prompt import LlamaPrompt, open_model, tool_style
from inference_server.model_files import chat_template_path, resolve_model_path
from inference_server.protocol import ChatCompletionRequest
from inference_server.settings import ConfigError, ModelSettings

from .kit import reference
from .kit.server import API_KEY, LITERAI, ROOT, Server, start_server, stop_server, write_config
from .test_tools import ASK, TOOLS, WEATHER_ARGS, forced_calls_hold

TEMPLATE = Path(__file__).parent / "fixtures" / "hermes_tools.jinja"
RESULT = '{"temp": 18, "sky": "sunny"}'


def _history(call_id: str = "call_1") -> list[dict[str, Any]]:
    args = '{"city": "Paris", "unit": "c"}'
    call = {"id": call_id, "type": "function",
            "function": {"name": "get_weather", "arguments": args}}  # fmt: skip
    return [*ASK, {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call_id, "content": RESULT}]  # fmt: skip


def test_a_template_with_tool_call_blocks_is_told_and_answered_its_own_way() -> None:
    assert tool_style(TEMPLATE.read_text()) == tools.HERMES
    chatml = (
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>{% endfor %}"
    )
    assert tool_style(chatml) is None
    smollm3 = "{% if xml_tools %}<tools>{{ xml_tools }}</tools> answer in <tool_call>{% endif %}"
    assert tool_style(smollm3) is None  # names <tool_call> but takes xml_tools
    req = ChatCompletionRequest.model_validate(
        {"model": "m", "messages": _history(), "tools": TOOLS, "tool_choice": "required"}
    )
    plan = tools.plan(req, tools.HERMES)
    assert plan is not None and plan.structure is not None
    # Not told in a system message of literai's: the template gets them.
    assert [m.role for m in plan.messages] == ["user", "assistant", "tool"]
    assert plan.messages[1].content == (
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}'
        "\n</tool_call>"
    )
    assert plan.messages[2].content == RESULT
    assert [t["function"]["name"] for t in plan.structure.told] == ["get_weather", "get_time"]
    json_plan = tools.plan(req, tools.JSON)  # the other style: told in the system message
    assert json_plan is not None and json_plan.messages[0].role == "system"
    assert not json_plan.structure.told  # type: ignore[union-attr]
    two = ('<tool_call>\n{"name": "get_time", "arguments": {"tz": "UTC"}}\n</tool_call>\n'
           '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "c"}}'
           "\n</tool_call>")  # fmt: skip
    made = tools.calls(two, tools.HERMES)
    assert made is not None and [c["function"]["name"] for c in made] == ["get_time", "get_weather"]
    assert tools.calls("It is sunny.", tools.HERMES) is None
    assert tools.calls('<tool_call>\n{"name": "get_ti', tools.HERMES) is None  # cut short
    holder = tools.CallHolder(tools.HERMES)
    assert holder.feed(Delta("<tool_call>\n{", 1)).text == ""  # held back
    assert holder.feed(Delta(two[13:], 9, "stop")).text == "" and holder.calls


def test_a_chat_template_file_that_is_not_there_is_one_line() -> None:
    with pytest.raises(ConfigError) as err:
        chat_template_path("smollm2", ModelSettings(chat_template="/nope/t.jinja"))  # type: ignore[call-arg]
    assert (
        str(err.value)
        == "config error: server.models.smollm2.chat_template: file not found: /nope/t.jinja"
    )
    with pytest.raises(ValueError, match=r"chat_template is for engine llama\.cpp, not echo"):
        ModelSettings(engine="echo", chat_template="t.jinja")  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def smollm2() -> Iterator[Any]:
    llm = open_model(resolve_model_path("smollm2", ModelSettings()), n_ctx=256)  # type: ignore[call-arg]
    yield llm
    llm.close()


def _accepts(llm: Any, grammar: str, text: str) -> bool:
    """Whether llama.cpp's sampler, under ``grammar``, lets the model write ``text``
    (tokenized as the model would) and then end."""
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
    sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
    assert sampler, "the grammar does not parse"
    n = llama_cpp.llama_vocab_n_tokens(vocab)
    cells = np.zeros(n, dtype=[("id", "i4"), ("logit", "f4"), ("p", "f4")])
    cells["id"] = np.arange(n)
    pointer = cells.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token_data))
    try:
        for token in [*llm.tokenize(text.encode(), add_bos=False), llm.token_eos()]:
            cells["logit"] = 0.0
            batch = llama_cpp.llama_token_data_array(pointer, n, -1, False)
            llama_cpp.llama_sampler_apply(sampler, ctypes.byref(batch))
            if not np.isfinite(cells["logit"][token]):
                return False
            llama_cpp.llama_sampler_accept(sampler, token)
        return True
    finally:
        llama_cpp.llama_sampler_free(sampler)


@pytest.mark.slow  # about 8 s: every token of the vocabulary checked at each step
def test_the_grammars_admit_the_blocks_and_nothing_calls_cannot_read(smollm2: Any) -> None:
    one = '<tool_call>\n{"name": "get_time", "arguments": {"tz": "UTC"}}\n</tool_call>'
    other = ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "c"}}'
             "\n</tool_call>")  # fmt: skip
    tricky = one.replace("UTC", "a</tool_call>b")  # read whole: one call
    texts = {"one": one, "two": f"{one}\n{other}", "five": "\n".join([one] * 5),
             "tricky": tricky, "text": "It is sunny.", "tag": "<b>hi", "json": '{"a": 1}',
             "after": f"{one}\nand more"}  # fmt: skip
    want = {  # (tool_choice, parallel_tool_calls) -> texts the grammar admits
        ("required", None): {"one", "two", "tricky"},
        ("required", False): {"one", "tricky"},
        ("auto", None): {"one", "two", "tricky", "text", "json"},
        ("get_time", None): {"one", "tricky"},
    }
    for (choice, parallel), admitted in want.items():
        named = {"type": "function", "function": {"name": choice}}
        body = {"model": "m", "messages": ASK, "tools": TOOLS,
                "tool_choice": choice if choice in ("required", "auto") else named}  # fmt: skip
        if parallel is not None:
            body["parallel_tool_calls"] = parallel
        plan = tools.plan(ChatCompletionRequest.model_validate(body), tools.HERMES)
        assert plan is not None and plan.structure is not None
        got = {k for k, text in texts.items() if _accepts(smollm2, plan.structure.grammar, text)}
        assert got == admitted, (choice, parallel)
        for k in got - {"text", "json"}:  # every call it admits is read back as calls
            assert tools.calls(texts[k], tools.HERMES), k
    [call] = tools.calls(tricky, tools.HERMES) or []
    assert json.loads(call["function"]["arguments"]) == {"tz": "a</tool_call>b"}


@pytest.fixture(scope="module")
def hermes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("hermes")
    model = {"slots": 2, "chat_template": str(TEMPLATE)}
    config = write_config(tmp, server={"port": 0, "models": {"smollm2": model}})
    srv = start_server(config, {"LITERAI_API_KEY": API_KEY})
    yield srv
    err = stop_server(srv)
    assert srv.proc.returncode == 0 and "Traceback" not in err, err


@pytest.mark.slow
def test_calls_are_held_to_the_templates_blocks_and_come_back_in_openais_shape(
    hermes: Server,
) -> None:
    client = hermes.client(timeout=120)
    forced_calls_hold(client, seeds=3, max_tokens=300)  # up to 4 blocks in one answer
    stream = client.chat.completions.create(
        model="smollm2", messages=ASK, tools=TOOLS[:1], tool_choice="required",  # type: ignore[arg-type]
        temperature=0.2, seed=1, max_tokens=200, stream=True,
    )  # fmt: skip
    chunks = [c for c in stream if c.choices]
    calls = [t for c in chunks for t in c.choices[0].delta.tool_calls or []]
    assert calls and not any(c.choices[0].delta.content for c in chunks)
    for t in calls:
        jsonschema.validate(json.loads(t.function.arguments or ""), WEATHER_ARGS)  # type: ignore[union-attr]


@pytest.mark.slow
def test_the_server_renders_tools_and_results_with_the_template(
    hermes: Server, smollm2: Any
) -> None:
    """The prompt the server ran is the template's own rendering, tools and the tool
    result included: its token count is that of the same rendering made here."""
    client = hermes.client(timeout=120)
    body = {"model": "smollm2", "messages": _history(), "tools": TOOLS, "max_tokens": 40,
            "temperature": 0.0}  # fmt: skip
    resp = client.chat.completions.create(**body)  # auto: an answer or a call
    plan = tools.plan(ChatCompletionRequest.model_validate(body), tools.HERMES)
    assert plan is not None and plan.structure is not None
    prompt = LlamaPrompt(smollm2, 2048, TEMPLATE.read_text())
    text, _, specials = prompt.render(plan.messages, plan.structure.told)
    tokens = smollm2.tokenize(text.encode(), add_bos=not specials, special=True)
    with pytest.raises(BackendError, match=r"chat template \(chat_template\) does not compile"):
        LlamaPrompt(smollm2, 2048, "{% for m in messages %}")
    assert "<tools>" in text and '"name": "get_weather"' in text
    assert f"<tool_response>\n{RESULT}\n</tool_response>" in text
    assert "<tool_call>\n" in text.split("<|im_start|>assistant")[1]  # the earlier call
    assert resp.usage is not None and resp.usage.prompt_tokens == len(tokens)
    reference.check("CreateChatCompletionResponse", resp.to_dict())


@pytest.mark.slow
def test_a_bad_chat_template_file_stops_the_server_with_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, server={"port": 0, "models": {"smollm2": {
        "chat_template": str(tmp_path / "missing.jinja")}}})  # fmt: skip
    done = subprocess.run([*LITERAI, "serve", "--config", str(config)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "server.models.smollm2.chat_template: file not found" in done.stderr
