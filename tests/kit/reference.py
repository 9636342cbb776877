"""OpenAI's published API reference, vendored in ``tests/fixtures/openai-openapi`` (see
its README for where it came from): :func:`check` validates a response body against one
of its component schemas with ``jsonschema``, an independent validator."""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path
from typing import Any

import jsonschema

DOC = Path(__file__).parents[1] / "fixtures" / "openai-openapi" / "openapi.json.gz"
VERSION = "2.3.0"  # info.version of the vendored document (commit f85dbe2, 2026-08-21)


def _nullable(node: Any) -> Any:
    """The document is OpenAPI 3.1 (JSON Schema 2020-12), yet about a hundred of its
    schemas still say ``nullable: true``, OpenAPI 3.0's word, which JSON Schema ignores;
    each of those is made to allow ``null`` as the reference means."""
    if isinstance(node, dict):
        node = {key: _nullable(value) for key, value in node.items()}
        if node.pop("nullable", False) is True:
            return {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list):
        return [_nullable(value) for value in node]
    return node


# Where the reference's schemas are narrower than its own words and OpenAI's API on the
# wire, each widened here on purpose, and only there (besides ``nullable`` above):
# - a completion's echoed prompt has no score for its first token (nothing comes before
#   it): ``token_logprobs`` and ``top_logprobs`` start with null, as OpenAI's legacy API
#   and vLLM send (ggml-org/llama.cpp#27174 states the expected shape);
# - a streamed completion's chunk: the reference gives the whole completion's schema for
#   both ("both the streamed and non-streamed response objects share the same shape"),
#   but its ``finish_reason`` is null until the last chunk (the wire, as shown in
#   openai/openai-openapi#100), and its ``usage`` is null on every chunk but the last
#   with ``stream_options.include_usage`` (the reference's ChatCompletionStreamOptions).
STREAMED_COMPLETION = "CreateCompletionResponse, streamed"


def _or_null(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


@functools.cache
def _schemas() -> dict[str, Any]:
    doc = json.loads(gzip.decompress(DOC.read_bytes()))
    assert doc["info"]["version"] == VERSION, "update VERSION with the document"
    schemas = dict(_nullable(doc["components"]["schemas"]))
    whole = schemas["CreateCompletionResponse"]
    choice = whole["properties"]["choices"]["items"]["properties"]
    scores = next(s for s in choice["logprobs"]["anyOf"] if s.get("type") == "object")
    for key in ("token_logprobs", "top_logprobs"):  # the first may be null, no other
        item = scores["properties"][key].pop("items")
        scores["properties"][key].update(prefixItems=[_or_null(item)], items=item)
    streamed = json.loads(json.dumps(whole))
    choice = streamed["properties"]["choices"]["items"]["properties"]
    choice["finish_reason"] = _or_null(choice["finish_reason"])
    streamed["properties"]["usage"] = _or_null(streamed["properties"]["usage"])
    schemas[STREAMED_COMPLETION] = streamed
    return schemas


@functools.cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    schemas = _schemas()
    assert name in schemas, f"the reference has no component {name}"
    pointer = name.replace("~", "~0").replace("/", "~1").replace(" ", "%20")
    root = {"$ref": f"#/components/schemas/{pointer}", "components": {"schemas": schemas}}
    return jsonschema.Draft202012Validator(root)


def check(name: str, body: object) -> None:
    """Fail, listing every mismatch, unless ``body`` is a valid ``name`` (a component
    schema of the reference: ``CreateChatCompletionResponse``, ...; or
    :data:`STREAMED_COMPLETION`)."""
    errors = sorted(_validator(name).iter_errors(body), key=lambda e: list(e.absolute_path))
    problems = [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:200]}" for e in errors
    ]
    assert not problems, f"not a valid {name}:\n" + "\n".join(problems)
