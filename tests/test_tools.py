"""Tool calls: with the real model through the real server and the official client
(required, a named function, auto, streamed deltas, a result sent back), and, on the
in-process echo server, every request the tools make unanswerable is a 400 naming the
field before anything runs."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import openai
import pytest

from .kit import reference
from .kit.inprocess import MODEL, EchoServer, echo_server_fixture  # noqa: F401

WEATHER_ARGS = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 40}, "unit": {"enum": ["c", "f"]}},
    "required": ["city", "unit"],
    "additionalProperties": False,
}
TIME_ARGS = {"type": "object", "properties": {"tz": {"type": "string", "maxLength": 40}},
             "required": ["tz"], "additionalProperties": False}  # fmt: skip
TOOLS: list[Any] = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                      "parameters": WEATHER_ARGS}},
    {"type": "function", "function": {"name": "get_time", "description": "Time in a timezone",
                                      "parameters": TIME_ARGS}},
]  # fmt: skip
ARGS = {"get_weather": WEATHER_ARGS, "get_time": TIME_ARGS}
ASK: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]


def _valid(call: Any) -> None:
    jsonschema.validate(json.loads(call.function.arguments), ARGS[call.function.name])
    assert call.id.startswith("call_") and call.type == "function"


def forced_calls_hold(client: openai.OpenAI, seeds: int, max_tokens: int) -> None:
    """``required`` and a named function, at temperature 1: calls whose arguments
    validate, of the named function where one is named, in the reference's shape."""
    for seed in range(seeds):
        for choice in ("required", {"type": "function", "function": {"name": "get_time"}}):
            resp = client.chat.completions.create(
                model="smollm2", messages=ASK, tools=TOOLS, tool_choice=choice,  # type: ignore[arg-type]
                temperature=1.0, seed=seed, max_tokens=max_tokens,
            )  # fmt: skip
            reference.check("CreateChatCompletionResponse", resp.to_dict())  # as on the wire
            message = resp.choices[0].message
            assert resp.choices[0].finish_reason == "tool_calls" and message.content is None
            assert message.tool_calls
            for call in message.tool_calls:
                _valid(call)
                if choice != "required":
                    assert call.function.name == "get_time"  # type: ignore[union-attr]


@pytest.mark.slow
def test_required_and_named_calls_validate_at_temperature_one(client: openai.OpenAI) -> None:
    forced_calls_hold(client, seeds=4, max_tokens=200)


@pytest.mark.slow
def test_streamed_calls_come_as_tool_call_deltas(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="smollm2", messages=ASK, tools=TOOLS[:1], tool_choice="required",  # type: ignore[arg-type]
        temperature=0.2, seed=1, max_tokens=200, stream=True,
    )  # fmt: skip
    chunks = [c for c in stream if c.choices]
    for chunk in chunks:
        reference.check("CreateChatCompletionStreamResponse", chunk.to_dict())
    calls = [t for c in chunks for t in c.choices[0].delta.tool_calls or []]
    assert calls and all(t.id and t.function and t.function.name == "get_weather" for t in calls)
    assert not any(c.choices[0].delta.content for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    for t in calls:
        jsonschema.validate(json.loads(t.function.arguments or ""), WEATHER_ARGS)  # type: ignore[union-attr]


@pytest.mark.slow
def test_a_result_goes_back_and_auto_answers_or_calls_well_formed(client: openai.OpenAI) -> None:
    made = client.chat.completions.create(
        model="smollm2", messages=ASK, tools=TOOLS, tool_choice="required", max_tokens=200,  # type: ignore[arg-type]
        temperature=0.2, seed=1, parallel_tool_calls=False,
    )  # fmt: skip
    [call] = made.choices[0].message.tool_calls or []
    result = '{"temp": 18, "sky": "sunny"}'
    history = [*ASK, {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
               {"role": "tool", "tool_call_id": call.id, "content": result}]  # fmt: skip
    for seed in range(4):
        resp = client.chat.completions.create(
            model="smollm2", messages=history, tools=TOOLS, temperature=1.0, seed=seed,  # type: ignore[arg-type]
            max_tokens=80,
        )  # fmt: skip
        choice = resp.choices[0]
        if choice.message.tool_calls:  # auto: a call it chose to make is well formed
            assert choice.finish_reason == "tool_calls"
            for again in choice.message.tool_calls:
                _valid(again)
        else:
            assert choice.message.content and not choice.message.content.startswith("{")


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"tool_choice": {"type": "function", "function": {"name": "nope"}}},
         "tool_choice.function.name"),
        ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]},
         "tools[0].function.name"),
        ({"tools": [{"type": "function", "function": {
            "name": "f", "parameters": {"type": "integer", "minimum": 1}}}]},
         "tools[0].function.parameters"),
        ({"messages": [{"role": "tool", "tool_call_id": "call_x", "content": "18"}]},
         "messages[0].tool_call_id"),
        ({"messages": [*ASK, {"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
           "function": {"name": "get_time", "arguments": "{not json"}}]}]},
         "messages[1].tool_calls"),
        ({"tools": None, "tool_choice": {"type": "function", "function": {"name": "get_time"}}},
         "tool_choice"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"tools": None, "tool_choice": "required"}, "tool_choice"),

        ({"response_format": {"type": "json_object"}, "tool_choice": "required"},
         "response_format"),
    ],
)  # fmt: skip
def test_a_request_the_tools_cannot_honour_is_a_400_naming_the_field(
    echo_server: EchoServer, change: dict[str, Any], param: str
) -> None:
    body = {"model": MODEL, "messages": ASK, "tools": TOOLS, **change}
    client = echo_server.client(timeout=30)
    with pytest.raises(openai.BadRequestError) as err:
        client.post("/chat/completions", cast_to=object, body=body)
    assert err.value.param == param, err.value.message


def test_tools_with_too_much_schema_are_a_400(
    echo_server: EchoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inference_server import tools

    monkeypatch.setattr(tools, "MAX_SCHEMA_CHARS", 200)  # the body limit is smaller here
    many = [{"type": "function", "function": {"name": f"f{i}", "parameters": {
        "type": "object", "description": "x" * 50}}} for i in range(5)]  # fmt: skip
    client = echo_server.client(timeout=30)
    with pytest.raises(openai.BadRequestError) as err:
        client.post("/chat/completions", cast_to=object,
                    body={"model": MODEL, "messages": ASK, "tools": many})  # fmt: skip
    assert err.value.param == "tools" and "limit is 200" in err.value.message
