"""How the emulator's "model" picks tools: by name in what the user said, as `tool_choice` forces, with
arguments made from the tool's JSON schema. Pure functions, no I/O.

A tool is named when its name appears in the user's words, with `_`/`-` read as spaces too ("what is the
current time" names `current_time`). Arguments come from `name=value` / `name: value` in the words, else a
placeholder of the right type for each required parameter, so a test can drive exact arguments and an
app under test always gets schema-valid ones.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Candidate:
    """A tool the model may call: a function (run by the client) or an MCP server's tool."""

    name: str
    schema: dict[str, Any]
    server_label: str | None = None  # set for MCP tools


def user_words(item: dict[str, Any] | None) -> str | None:
    """What a user message says (typed text and transcripts), or None for anything else."""
    if item is None or item.get("type") != "message" or item.get("role") != "user":
        return None
    parts = []
    for part in item.get("content") or []:
        if part.get("type") == "input_text":
            parts.append(str(part.get("text") or ""))
        elif part.get("type") == "input_audio" and part.get("transcript"):
            parts.append(str(part["transcript"]))
    return " ".join(parts)


def _mentions(text: str, name: str) -> int | None:
    """Where `name` is first mentioned in `text` (as written, or with _ and - as spaces), or None."""
    lowered = text.lower()
    found = []
    for form in {name.lower(), re.sub(r"[_-]+", " ", name.lower())}:
        match = re.search(rf"(?<![\w-]){re.escape(form)}(?![\w-])", lowered)
        if match:
            found.append(match.start())
    return min(found) if found else None


def choose(text: str, candidates: list[Candidate], tool_choice: Any, *, parallel: bool) -> list[Candidate]:
    """The tools this response calls, in the order the user named them."""
    if tool_choice == "none" or not candidates:
        return []
    if isinstance(tool_choice, dict) and tool_choice.get("type") == "function":
        forced = [c for c in candidates if c.name == tool_choice.get("name") and c.server_label is None]
        return forced[:1]
    named = sorted(((pos, c) for c in candidates if (pos := _mentions(text, c.name)) is not None),
                   key=lambda pair: pair[0])
    picked = [c for _, c in named]
    if not picked and tool_choice == "required":
        picked = candidates[:1]
    return picked if parallel else picked[:1]


def _given(text: str, name: str) -> str | None:
    match = re.search(rf"(?<![\w-]){re.escape(name)}\s*[=:]\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s,;]+))", text)
    if not match:
        return None
    return next(g for g in match.groups() if g is not None)


def _coerce(raw: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
        if kind == "boolean":
            return raw.lower() in ("true", "yes", "1", "on")
        if kind in ("array", "object"):
            return json.loads(raw)
    except ValueError:
        pass
    return raw


def _placeholder(name: str, schema: dict[str, Any]) -> Any:
    if "default" in schema:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return f"example {name.replace('_', ' ')}"


def arguments_for(schema: dict[str, Any], text: str) -> str:
    """The JSON arguments for a call: values the user gave, then placeholders for required ones."""
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    args: dict[str, Any] = {}
    for name, prop in properties.items():
        prop = prop if isinstance(prop, dict) else {}
        raw = _given(text, name)
        if raw is not None:
            args[name] = _coerce(raw, prop)
        elif name in required:
            args[name] = _placeholder(name, prop)
    return json.dumps(args, ensure_ascii=False)


def quote(item: dict[str, Any], call_names: dict[str, str]) -> str | None:
    """The reply the emulator gives after a tool item: it quotes what the tool returned."""
    kind = item.get("type")
    if kind == "function_call_output":
        name = call_names.get(str(item.get("call_id")), "The tool")
        return f"{name} returned: {item.get('output', '')}"
    if kind == "mcp_call":
        where = f"{item.get('server_label')}.{item.get('name')}"
        if item.get("error"):
            return f"The MCP tool {where} failed: {item['error']}"
        return f"The MCP tool {where} returned: {item.get('output') or ''}"
    if kind == "mcp_approval_response" and not item.get("approve"):
        return "You did not approve that call, so I did not make it."
    if kind == "mcp_approval_request":
        return f"I am waiting for your approval to call {item.get('name')}."
    if kind == "function_call":
        return f"I am waiting for the result of {item.get('name')}."
    return None
