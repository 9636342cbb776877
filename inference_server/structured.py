"""Structured outputs: OpenAI's ``response_format`` on chat completions.

``{"type": "json_object"}`` holds the answer to a JSON object; ``{"type": "json_schema",
"json_schema": {"name", "schema", "strict"}}`` to JSON valid under the schema. The
embedded engines enforce it while sampling, with a llama.cpp grammar made here from the
schema by llama-cpp-python's own converter (``SchemaConverter``, a port of llama.cpp's
``json_schema_to_grammar``), so every token the model may pick keeps the text valid;
the vLLM and remote engines pass the schema on to the other server's guided decoding.

The converter enforces only part of JSON Schema and ignores the rest silently (it has no
``minimum``, for one), so a schema is checked here first, keyword by keyword, and one
the grammar could not hold is a 400 that names the keyword and where it is, on every
engine alike. ``$ref`` must point inside the schema: nothing is ever fetched.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from .backends.base import Structure
from .protocol import ApiError, ResponseFormat

MAX_SCHEMA_CHARS = 64_000
MAX_DEPTH = 24
_ANNOTATIONS = frozenset(
    "title description default examples $schema $id $comment deprecated readOnly writeOnly".split()
)
_KEYWORDS = _ANNOTATIONS | frozenset(
    "type properties required additionalProperties items prefixItems minItems maxItems "
    "enum const anyOf oneOf $ref $defs definitions pattern format minLength maxLength".split()
)
_TYPES = frozenset("string number integer boolean null object array".split())
_FORMATS = frozenset("date time date-time uuid uuid1 uuid2 uuid3 uuid4 uuid5".split())
_SCHEMAS = ("items", "additionalProperties")  # keywords whose value is a schema
_SCHEMA_LISTS = ("prefixItems", "anyOf", "oneOf")
_SCHEMA_MAPS = ("properties", "$defs", "definitions")
PARAM = "response_format.json_schema.schema"
_RULE = re.compile(r'^((?:char|dot) ::= )\[\^(?:"\\\\|\\x0A\\x0D)\]', re.MULTILINE)
_CHAR_SET = r'[^"\\\x7F\x00-\x1F]'
_NOT_IN_STRING = r'"\\\x7F\x00-\x1F'
_NEGATED = re.compile(r"\[\^((?:\\.|[^\]\\])*)\]")
_QUOTE_IN_CLASS = re.compile(r'\[[^\]]*(?:"|\\\\)[^\]]*\]')


def structure(fmt: ResponseFormat | None) -> Structure | None:
    """The constraint ``fmt`` asks for (None: free text), or an ApiError(400)."""
    from llama_cpp.llama_grammar import JSON_GBNF

    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return Structure(grammar=JSON_GBNF)
    spec = fmt.json_schema
    if spec is None:
        raise ApiError(
            400, "response_format of type json_schema needs 'json_schema'", param="response_format"
        )
    schema = spec.schema_ if spec.schema_ is not None else {}
    if len(json.dumps(schema)) > MAX_SCHEMA_CHARS:
        raise ApiError(400, f"the schema is over {MAX_SCHEMA_CHARS} characters", param=PARAM)
    check(schema)
    return Structure(grammar(schema), schema, spec.name, bool(spec.strict))


def check(schema: Any, where: str = "", depth: int = 0, param: str = PARAM) -> None:
    """ApiError(400) naming the first keyword or value in ``schema`` that the grammar
    cannot enforce, and where it is (a JSON pointer)."""
    at = where or "/"
    if depth > MAX_DEPTH:
        raise ApiError(400, f"the schema is nested over {MAX_DEPTH} levels deep", param=param)
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise ApiError(400, f"a schema must be an object (at {at})", param=param)
    for key, value in schema.items():
        if key not in _KEYWORDS:
            raise ApiError(
                400,
                f"the JSON schema keyword '{key}' is not supported (at {at}); supported: "
                + ", ".join(sorted(_KEYWORDS - _ANNOTATIONS)),
                param=param,
            )
        _check_value(key, value, f"{where}/{key}", depth, param)
    _check_together(schema, at, param)


def _check_together(schema: dict[str, Any], at: str, param: str) -> None:
    """Keywords the converter would drop without a word in these combinations."""
    keys = set(schema)
    why = None
    if keys & {"minItems", "maxItems"} and not keys & {"items", "prefixItems"}:
        why = "'minItems'/'maxItems' need 'items'"
    elif "required" in keys and "properties" not in keys:
        why = "'required' needs 'properties'"
    elif keys & {"minLength", "maxLength"} and keys & {"pattern", "format"}:
        why = "'minLength'/'maxLength' cannot be combined with 'pattern' or 'format'"
    elif keys & {"minLength", "maxLength"} and schema.get("type") != "string":
        why = "'minLength'/'maxLength' need \"type\": \"string\""
    if why is not None:
        raise ApiError(400, f"{why} here (at {at}): the grammar cannot hold it otherwise",
                       param=param)  # fmt: skip


def _check_value(key: str, value: Any, at: str, depth: int, param: str) -> None:
    def bad(why: str) -> ApiError:
        return ApiError(400, f"'{key}' {why} (at {at})", param=param)

    if key in _SCHEMAS and not (key == "items" and isinstance(value, list)):
        check(value, at, depth + 1, param)
    elif key in _SCHEMA_LISTS or key == "items":
        if not isinstance(value, list) or not value:
            raise bad("must be a non-empty list of schemas")
        for i, item in enumerate(value):
            check(item, f"{at}/{i}", depth + 1, param)
    elif key in _SCHEMA_MAPS:
        if not isinstance(value, dict):
            raise bad("must be an object of schemas")
        for name, item in value.items():
            check(item, f"{at}/{name}", depth + 1, param)
    elif key == "type":
        types = value if isinstance(value, list) else [value]
        if not types or any(not isinstance(t, str) or t not in _TYPES for t in types):
            raise bad("must be one of " + ", ".join(sorted(_TYPES)) + " or a list of them")
    elif key == "$ref" and not (isinstance(value, str) and value.startswith("#/")):
        raise bad("must point inside the schema ('#/$defs/...'); nothing is fetched")
    elif key == "format" and not (isinstance(value, str) and value in _FORMATS):
        raise bad("must be one of " + ", ".join(sorted(_FORMATS)))
    elif key == "pattern" and (not isinstance(value, str) or "(?" in value):
        raise bad("must be a regular expression without lookarounds or (?...) groups")
    elif key == "pattern" and _QUOTE_IN_CLASS.search(value):
        raise bad("must not admit a quote or a backslash in a character class")
    elif key in ("minItems", "maxItems", "minLength", "maxLength") and not (
        isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10_000
    ):
        raise bad("must be a whole number from 0 to 10000")
    elif key == "required" and not (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    ):
        raise bad("must be a list of property names")
    elif key == "enum" and not (isinstance(value, list) and value):
        raise bad("must be a non-empty list")


def grammar(schema: dict[str, Any], param: str = PARAM) -> str:
    """llama.cpp grammar text that admits exactly the JSON ``schema`` describes."""
    from llama_cpp.llama_grammar import SchemaConverter

    schema = copy.deepcopy(schema)
    pattern = schema.get("pattern") if isinstance(schema, dict) else None
    converter = SchemaConverter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
    try:
        _anchor(schema)
        resolved = converter.resolve_refs(schema, "request")
        converter.visit(resolved, "")
        text = str(converter.format_grammar())
    except Exception as exc:  # the converter asserts, and fails in its own ways
        why = str(exc) or type(exc).__name__
        if pattern is not None and "pattern" in why.lower():
            why = f"its pattern {pattern!r} cannot be enforced: {why}"
        raise ApiError(400, f"cannot enforce the schema: {why}", param=param) from None
    # llama-cpp-python 0.3.36's string characters (and a pattern's ".") admit raw
    # control characters, a quote and a backslash: text that is not JSON. As llama.cpp's
    # own converter, a character is anything but those, or an escape.
    text = _RULE.sub(lambda m: m.group(1) + _CHAR_SET, text)

    # A pattern's negated class ([^,]) would admit a raw quote, backslash or control
    # character too: not inside a JSON string.
    def tighten(m: re.Match[str]) -> str:
        inside = m.group(1)
        return m.group(0) if inside.startswith(_NOT_IN_STRING) else f"[^{_NOT_IN_STRING}{inside}]"

    return _NEGATED.sub(tighten, text)


def _anchor(node: Any) -> None:
    """Anchor every ``pattern`` (the converter only takes ``^...$``): JSON Schema
    searches anywhere in the string, so a whole-string match still satisfies it."""
    if isinstance(node, list):
        for item in node:
            _anchor(item)
    elif isinstance(node, dict):
        pattern = node.get("pattern")
        if isinstance(pattern, str) and not (pattern.startswith("^") and pattern.endswith("$")):
            node["pattern"] = "^(" + pattern.removeprefix("^").removesuffix("$") + ")$"
        for key, value in node.items():
            if key not in ("enum", "const", "default", "examples"):
                _anchor(value)
