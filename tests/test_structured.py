"""Structured outputs, what needs no model: a schema the grammar cannot hold is a 400
naming the keyword and where it is (on the wire, through the official client, on the
in-process echo server); the grammar text made from a schema; the echo engine refuses
to pretend. The model's side (every answer parses and validates) is in
test_structured_model.py."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from inference_server.protocol import ApiError, ResponseFormat
from inference_server.structured import check, grammar, structure

from .kit.inprocess import MODEL, EchoServer, echo_server_fixture  # noqa: F401

MSG = [{"role": "user", "content": "Name three colours."}]


def _schema_format(schema: Any) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}


@pytest.mark.parametrize(
    ("schema", "names"),
    [
        ({"type": "integer", "minimum": 3}, ["'minimum'", "at /"]),
        (
            {"type": "object", "properties": {"a": {"not": {"type": "null"}}}},
            ["'not'", "/properties/a"],
        ),
        (
            {"type": "array", "items": {"type": "string", "uniqueItems": True}},
            ["'uniqueItems'", "/items"],
        ),
        ({"$ref": "https://example.com/schema.json"}, ["'$ref'", "nothing is fetched"]),
        ({"type": "string", "format": "email"}, ["'format'", "date-time"]),
        ({"type": "strin"}, ["'type'", "string"]),
        ({"type": "string", "pattern": "(?=a)b"}, ["'pattern'", "lookarounds"]),
        ({"type": "array", "maxItems": -1}, ["'maxItems'", "whole number"]),
        ({"anyOf": []}, ["'anyOf'", "non-empty"]),
        (["not", "a", "schema"], ["must be an object"]),
        # Allowed keywords the converter would drop in these combinations:
        ({"type": "array", "minItems": 3}, ["need 'items'"]),
        ({"type": "object", "required": ["a"]}, ["needs 'properties'"]),
        ({"type": "string", "pattern": "^a+$", "maxLength": 3}, ["cannot be combined"]),
        ({"type": ["string", "null"], "minLength": 1}, ['need "type": "string"']),
        ({"type": "string", "pattern": '^[a"]+$'}, ["'pattern'", "quote"]),
        # Values of the wrong kind are a 400, never a 500:
        ({"type": [{}]}, ["'type'"]),
        ({"format": {}}, ["'format'"]),
    ],
)
def test_a_schema_the_grammar_cannot_hold_names_the_keyword(schema: Any, names: list[str]) -> None:
    with pytest.raises(ApiError) as err:
        check(schema)
    assert err.value.status == 400
    assert err.value.param == "response_format.json_schema.schema"
    for name in names:
        assert name in str(err.value), str(err.value)


def test_a_schema_nested_without_end_is_refused() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(40):
        schema = {"type": "array", "items": schema}
    with pytest.raises(ApiError, match="nested over"):
        check(schema)


def test_the_grammar_keeps_strings_json() -> None:
    """llama-cpp-python's converter lets a string hold raw control characters, a quote
    or a backslash; the grammar made here does not."""
    a, b = {"type": "string", "maxLength": 5}, {"type": "string", "pattern": "x.y"}
    text = grammar({"type": "object", "properties": {"a": a, "b": b}})
    rules = dict(line.split(" ::= ", 1) for line in text.splitlines())
    assert rules["char"].startswith(r'[^"\\\x7F\x00-\x1F] | "\\"'), rules["char"]
    assert rules["dot"] == r'[^"\\\x7F\x00-\x1F]', rules["dot"]
    assert '"x" dot "y"' in text  # the unanchored pattern is matched whole


def test_a_negated_class_in_a_pattern_never_admits_what_breaks_json() -> None:
    text = grammar({"type": "string", "pattern": "^[^,]+$"})
    assert r'[^"\\\x7F\x00-\x1F,]+' in text, text
    with pytest.raises(ApiError, match="cannot enforce"):  # the converter's own failure
        grammar({"properties": {"$ref": True}})


def test_text_is_no_constraint_and_json_object_is_any_object() -> None:
    assert structure(None) is None
    assert structure(ResponseFormat(type="text")) is None
    loose = structure(ResponseFormat(type="json_object"))
    assert loose is not None and loose.schema is None
    assert loose.grammar.lstrip().startswith("root   ::= object")
    assert loose.response_format() == {"type": "json_object"}


def test_a_schema_travels_on_to_another_server_as_it_came() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    fmt = ResponseFormat.model_validate(_schema_format(schema) | {})
    made = structure(fmt)
    assert made is not None
    assert made.response_format() == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema, "strict": False},
    }


@pytest.mark.parametrize(
    ("response_format", "param", "says"),
    [
        (_schema_format({"type": "number", "maximum": 2}), "response_format.json_schema.schema",
         "'maximum'"),
        ({"type": "json_schema"}, "response_format", "needs 'json_schema'"),
        ({"type": "xml"}, "response_format.type", "Input should be"),
    ],
)  # fmt: skip
def test_on_the_wire_a_bad_schema_is_a_400_naming_it(
    echo_server: EchoServer, response_format: Any, param: str, says: str
) -> None:
    client = echo_server.client(timeout=30)
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model=MODEL, messages=MSG, response_format=response_format,  # type: ignore[arg-type]
        )  # fmt: skip
    assert err.value.param == param
    assert says in err.value.message, err.value.message


def test_the_echo_engine_refuses_json_rather_than_pretending(echo_server: EchoServer) -> None:
    client = echo_server.client(timeout=30)
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model=MODEL,
            messages=MSG,  # type: ignore[arg-type]
            response_format={"type": "json_object"},
        )
    assert err.value.param == "response_format"
    assert "cannot hold them to JSON" in err.value.message
    resp = client.chat.completions.create(
        model=MODEL,
        messages=MSG,  # type: ignore[arg-type]
        response_format={"type": "text"},
    )
    assert resp.choices[0].message.content == "Name three colours."
