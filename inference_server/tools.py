"""Tool calls on chat completions: ``tools``, ``tool_choice``, ``parallel_tool_calls``.

How the model is told depends on its chat template (``style``):

- "json" (SmolLM2's ChatML has no tool format of its own, nor have most small models'):
  the tools are told in the system message, as JSON, with the shape a call takes
  (``{"name": ..., "arguments": {...}}``, a list of them when parallel calls are
  allowed); earlier calls and their results go back into the conversation as that JSON
  and as the user's words ("Tool result: ...").
- "hermes" (a template that takes ``tools`` and has the model answer
  ``<tool_call>{json}</tool_call>``: Qwen2.5 and 3, Hermes 2 Pro and 3): the
  template gets the tools and says them its own way, a call is that block (one per
  call), earlier calls go back as those blocks and results as ``tool`` messages, which
  the template wraps itself (``<tool_response>``).

What the model writes is held by a grammar (structured.py) made from the tools' own
parameter schemas:

- ``required`` or a named function: the answer must be a call (of that function), whose
  arguments validate against its parameters;
- ``auto``: the answer is a call, or text that does not start like one ("{" or "[", or
  "<"); a call is still always well formed (the grammar decides it at the first
  character);
- ``none`` (or no tools): free text, the tools not even told.

The answer's JSON becomes the assistant message's ``tool_calls`` (ids ``call_...``,
``arguments`` as a JSON string) and ``finish_reason: "tool_calls"``.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, replace
from typing import Any

from .backends.base import ChatMessage, Delta, Structure
from .protocol import ApiError, ChatCompletionRequest
from .structured import MAX_SCHEMA_CHARS, check, grammar

MAX_CALLS = 4  # calls in one parallel answer
_ROOT = re.compile(r"^root ::=", re.MULTILINE)
JSON, HERMES = "json", "hermes"  # how tools are told and calls written (``style``)
OPEN, CLOSE = "<tool_call>", "</tool_call>"  # a hermes call: OPEN\n{json}\nCLOSE
# The characters a call opens with, by style: an answer that opens with one is a call.
_OPENS = {JSON: "{[", HERMES: "<"}
_SPACE = re.compile(r"\s*")


@dataclass(frozen=True)
class ToolPlan:
    """What a request's tools make of its generation: the messages the model reads, the
    grammar it writes under (None: free text), and whether the answer may be text."""

    messages: list[ChatMessage]
    structure: Structure | None
    parallel: bool


def plan(req: ChatCompletionRequest, style: str | None = None) -> ToolPlan | None:
    """The plan for a request with tools in play; None when it has none (or ``none``).
    ``style``: the model's template's own tool format (None: "json"). ApiError(400) for
    a tool, a choice or a message that cannot be honoured."""
    style = style or JSON
    messages = _history(req, style)
    tools = {t.function.name: t.function for t in req.tools or []}
    if len(tools) < len(req.tools or []):
        raise ApiError(400, "two tools have the same name", param="tools")
    size = len(json.dumps([t.parameters for t in tools.values()]))
    if size > MAX_SCHEMA_CHARS:
        raise ApiError(400, f"the tools' parameters are {size} characters of schema; the "
                       f"limit is {MAX_SCHEMA_CHARS}", param="tools")  # fmt: skip
    for i, tool in enumerate(tools.values()):
        check(tool.parameters or {"type": "object"}, "", 0, f"tools[{i}].function.parameters")
    choice = req.tool_choice or ("auto" if tools else "none")
    if not tools or choice == "none":
        if choice != "none" and req.tool_choice is not None:
            raise ApiError(400, "tool_choice asks for a call but no tools were given",
                           param="tool_choice")  # fmt: skip
        return None if not req.tools and not _used(req) else ToolPlan(messages, None, False)
    if not isinstance(choice, str):
        name = choice.function.name
        if name not in tools:
            raise ApiError(400, f"tool_choice names '{name}', which is not one of the tools",
                           param="tool_choice.function.name")  # fmt: skip
        tools = {name: tools[name]}
    parallel = req.parallel_tool_calls is not False and isinstance(choice, str)
    call = {"anyOf": [_call_schema(n, f.parameters) for n, f in tools.items()]}
    schema = ({"type": "array", "items": call, "minItems": 1, "maxItems": MAX_CALLS}
              if parallel else call)  # fmt: skip
    text = _grammar(call, schema, style, parallel, auto=choice == "auto")
    listed = list(tools.values())
    if style == HERMES:
        told = tuple({"type": "function", "function": {"name": f.name, "description": f.description
                      or "", "parameters": f.parameters or {}}} for f in listed)  # fmt: skip
        held = Structure(text, schema, "tool_calls", True, loose=choice == "auto", told=told)
        return ToolPlan(messages, held, parallel)
    said = _told(listed, parallel, forced=choice != "auto")
    messages = [ChatMessage("system", said), *messages] if messages[0].role != "system" else [
        ChatMessage("system", messages[0].content + "\n\n" + said), *messages[1:]]  # fmt: skip
    held = Structure(text, schema, "tool_calls", True, loose=choice == "auto")
    return ToolPlan(messages, held, parallel)


def _grammar(
    call: dict[str, Any], schema: dict[str, Any], style: str, parallel: bool, auto: bool
) -> str:
    """The answer's grammar: the calls, as ``style`` writes them; with ``auto``, or text
    that does not open like a call."""
    if style == HERMES:  # each call its own block, around one call's JSON
        text = _ROOT.sub("toolcallone ::=", grammar(call, "tools"))
        more = ' ("\\n" toolcallblock)?' * (MAX_CALLS - 1) if parallel else ""
        text += (f"\ntoolcallroot ::= toolcallblock{more}\ntoolcallblock ::= "
                 f'"{OPEN}\\n" toolcallone "\\n{CLOSE}"\n')  # fmt: skip
    else:
        text = _ROOT.sub("toolcallroot ::=", grammar(schema, "tools"))
    if not auto:
        return text + "\nroot ::= toolcallroot\n"
    return text + (f"\nroot ::= toolcallroot | toolfreetext\n"
                   f"toolfreetext ::= [^{_OPENS[style]} \\t\\n] [^\\x00]*\n")  # fmt: skip


def _used(req: ChatCompletionRequest) -> bool:
    return any(m.tool_calls or m.role == "tool" for m in req.messages)


def _call_schema(name: str, parameters: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": "object",
            "properties": {"name": {"const": name}, "arguments": parameters or {"type": "object"}},
            "required": ["name", "arguments"], "additionalProperties": False}  # fmt: skip


def _told(tools: list[Any], parallel: bool, forced: bool) -> str:
    listed = json.dumps(
        [{"name": t.name, "description": t.description or "", "parameters": t.parameters or {}}
         for t in tools], ensure_ascii=False)  # fmt: skip
    shape = '{"name": "<tool name>", "arguments": {...}}'
    if parallel:
        shape = f"[{shape}, ...]"
    if forced:
        return f"You can call these tools: {listed}\nAnswer with a tool call, as JSON: {shape}"
    return (
        f"You can call these tools: {listed}\nWhen a tool can answer the user, answer with "
        f"only the call, as JSON: {shape}. Otherwise answer in words."
    )


def _history(req: ChatCompletionRequest, style: str) -> list[ChatMessage]:
    """The messages as the model reads them: an assistant's earlier calls as it writes
    them, a tool's result as the user's words ("json") or a ``tool`` message for the
    template ("hermes"); a result must answer a call made before it."""
    called: set[str] = set()
    out = []
    for i, m in enumerate(req.messages):
        if m.role == "assistant" and m.tool_calls:
            calls = [{"name": c.function.name, "arguments": _arguments(c.function.arguments, i)}
                     for c in m.tool_calls]  # fmt: skip
            called.update(c.id for c in m.tool_calls)
            written = ("\n".join(f"{OPEN}\n{json.dumps(c, ensure_ascii=False)}\n{CLOSE}"
                                 for c in calls) if style == HERMES
                       else json.dumps(calls, ensure_ascii=False))  # fmt: skip
            out.append(ChatMessage("assistant", written))
            continue
        if m.role == "tool":
            if m.tool_call_id not in called:
                raise ApiError(400, f"messages[{i}] answers tool call {m.tool_call_id!r}, which "
                               "no earlier assistant message made",
                               param=f"messages[{i}].tool_call_id")  # fmt: skip
            # "json": as the user's words: every template has that role, and a server
            # elsewhere would want the call id with a "tool" message.
            if style == HERMES:
                out.append(ChatMessage("tool", m.text()))
            else:
                out.append(ChatMessage("user", f"Tool result: {m.text()}"))
            continue
        out.append(ChatMessage(m.role, m.text()))
    return out


def _arguments(text: str, i: int) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise ApiError(400, f"messages[{i}] has tool call arguments that are not JSON",
                       param=f"messages[{i}].tool_calls") from None  # fmt: skip


def calls(text: str, style: str | None = None) -> list[dict[str, Any]] | None:
    """The tool calls an answer made, in OpenAI's shape; None when it is text."""
    if not text.lstrip().startswith(tuple(_OPENS[style or JSON])):
        return None
    try:
        if style == HERMES:
            found = _blocks(text)
        else:
            found = json.loads(text)
    except ValueError:  # cut short by max_tokens: no call was made
        return None
    found = found if isinstance(found, list) else [found]
    made = [{"id": "call_" + uuid.uuid4().hex[:24], "type": "function",
             "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
            for c in found if isinstance(c, dict) and "name" in c and "arguments" in c]  # fmt: skip
    return made or None


def _blocks(text: str) -> list[Any] | None:
    """The JSON of each ``<tool_call>`` block, when ``text`` is blocks and nothing else
    (a block cut short is no call). Each JSON is read whole before its block's end is
    looked for: a string inside may itself say "</tool_call>"."""
    found: list[Any] = []
    at, decoder = 0, json.JSONDecoder()
    while True:
        at = _past_space(text, at)
        if at == len(text):
            return found or None
        if not text.startswith(OPEN, at):
            return None
        at = _past_space(text, at + len(OPEN))
        value, at = decoder.raw_decode(text, at)  # ValueError: not JSON, or cut short
        found.append(value)
        at = _past_space(text, at)
        if not text.startswith(CLOSE, at):
            return None
        at += len(CLOSE)


def _past_space(text: str, at: int) -> int:
    space = _SPACE.match(text, at)
    return space.end() if space else at


class CallHolder:
    """A streamed answer that may be tool calls: text that opens like a call is held
    back until it ends (``calls`` then has them); any other text passes at once."""

    def __init__(self, style: str | None = None) -> None:
        self.style = style
        self.held = ""
        self.mode: str | None = None  # "call" or "text", from the first character
        self.calls: list[dict[str, Any]] | None = None

    def feed(self, delta: Delta) -> Delta:
        """What of ``delta`` to send now."""
        if self.mode == "text":
            return delta
        self.held += delta.text
        if self.mode is None and self.held:
            self.mode = "call" if self.held[0] in _OPENS[self.style or JSON] else "text"
        if self.mode == "text":
            out = replace(delta, text=self.held)
            self.held = ""
            return out
        if delta.finish_reason is not None:
            self.calls = calls(self.held, self.style) if self.mode == "call" else None
            if not self.calls:  # cut short by max_tokens: the text as it is
                return replace(delta, text=self.held, logprobs=None)
        return replace(delta, text="", logprobs=None)
