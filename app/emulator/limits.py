"""Bounds on what a client can make the emulator hold or accept, and the checks that enforce them.

The service documents few limits (15 MiB per append, `metadata` sizes, `max_response_output_tokens`
1–4096); the others here are the emulator's own, generous for any real client and small enough that a
hostile or broken one cannot grow the server without bound. Error codes follow the OpenAI-style API the
service extends (`string_above_max_length`, `integer_above_max_value`, …).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 32  # nesting of objects/arrays in one client event
MAX_RECORDED_CHARS = 16_384  # larger events are kept in `received` / `sent` as a summary
MAX_ID_CHARS = 256
MAX_ITEM_TEXT_CHARS = 200_000  # text in one conversation item
ITEMS_BUDGET_CHARS = 16_000_000  # approximate size of every item a session keeps (audio as bytes)
MAX_ITEMS = 2_000
MAX_REPLIES = 64  # reply records kept per session (for tests and benchmarks)
REPLY_AUDIO_KEEP_S = 120  # reply audio kept across those records

MAX_STRING_CHARS = 1_024  # any string in `session` not named below
LONG_STRINGS = {"session.instructions": 100_000, "session.interim_response.instructions": 100_000}
MAX_TOOLS = 128
MAX_TOOLS_CHARS = 262_144
MAX_NUMBER = 1e9  # any number in `session`
INT_RANGES = {
    "session.turn_detection.speech_duration_ms": (0, 10_000),
    "session.turn_detection.prefix_padding_ms": (0, 5_000),
    "session.turn_detection.silence_duration_ms": (0, 10_000),
    "session.turn_detection.end_of_utterance_detection.timeout_ms": (0, 10_000),
    "session.turn_detection.end_of_utterance_detection.timeout": (0, 10),
    "session.max_response_output_tokens": (1, 4096),
}
ID_FIELDS = ("event_id", "item_id", "previous_item_id", "response_id")


@dataclass(frozen=True)
class Problem:
    """Why a client event is refused: the `error` event's code, message and param."""

    message: str
    param: str
    code: str = "invalid_value"


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True when objects/arrays nest deeper than `limit` (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def recorded(event: dict[str, Any], size: int) -> dict[str, Any]:
    """What a session keeps of an event of `size` serialised characters: all of it, audio elided, or a summary."""
    if size > MAX_RECORDED_CHARS:
        return {"type": event.get("type"), "event_id": event.get("event_id"), "elided_chars": size}
    if "audio" in event:
        return {**event, "audio": "<elided>"}
    return event


def id_problem(event: dict[str, Any]) -> Problem | None:
    """Ids must be short strings (or null) wherever they appear at the top of an event or in its `item`."""
    fields = [(key, event.get(key)) for key in ID_FIELDS if key in event]
    item = event.get("item")
    if isinstance(item, dict):
        fields += [(f"item.{key}", item.get(key)) for key in ("id", "call_id", "previous_item_id") if key in item]
    for param, value in fields:
        if value is None:  # absent in effect; the handler says what is missing, if anything
            continue
        if not isinstance(value, str):
            return Problem(f"Invalid '{param}': expected a string, but got {type(value).__name__}.", param,
                           "invalid_type")
        if len(value) > MAX_ID_CHARS:
            return Problem(f"Invalid '{param}': string too long. Expected a string with maximum length "
                           f"{MAX_ID_CHARS}, but got a string with length {len(value)} instead.", param,
                           "string_above_max_length")
    return None


def item_problem(item: Any) -> Problem | None:
    """The shape `conversation.item.create` needs before anything reads the item."""
    if not isinstance(item, dict) or item.get("type") not in ("message", "function_call_output", "function_call",
                                                                  "mcp_approval_response"):
        return Problem("item must be an object with a valid type", "item")
    if item["type"] == "message":
        if item.get("role") not in ("user", "system", "assistant"):
            return Problem("Invalid 'item.role': expected one of user, system, assistant.", "item.role")
        content = item.get("content")
        if not isinstance(content, list) or not all(isinstance(p, dict) and isinstance(p.get("type"), str)
                                                   for p in content):
            return Problem("Invalid 'item.content': expected an array of content parts, each an object with a "
                           "type.", "item.content", "invalid_type")
        for index, part in enumerate(content):
            for key in ("text", "transcript"):
                text = part.get(key)
                if text is not None and not isinstance(text, str):
                    return Problem(f"Invalid 'item.content[{index}].{key}': expected a string.",
                                   f"item.content[{index}].{key}", "invalid_type")
        total = sum(len(p.get("text") or "") + len(p.get("transcript") or "") for p in content)
        if total > MAX_ITEM_TEXT_CHARS:
            return Problem(f"Invalid 'item.content': text too long. Expected at most {MAX_ITEM_TEXT_CHARS} "
                           f"characters, but got {total} instead.", "item.content", "string_above_max_length")
    for key in ("output", "arguments", "name"):
        value = item.get(key)
        if value is not None and not isinstance(value, str):
            return Problem(f"Invalid 'item.{key}': expected a string.", f"item.{key}", "invalid_type")
        if isinstance(value, str) and len(value) > MAX_ITEM_TEXT_CHARS:
            return Problem(f"Invalid 'item.{key}': string too long.", f"item.{key}", "string_above_max_length")
    return None


def session_problem(update: Any) -> Problem | None:
    """Sizes and numeric ranges in a `session.update` (types and enums are the session model's job)."""
    if not isinstance(update, dict):
        return None
    tools = update.get("tools")
    if isinstance(tools, list):
        if len(tools) > MAX_TOOLS:
            return Problem(f"Invalid 'session.tools': array too long. Expected an array with maximum length "
                           f"{MAX_TOOLS}, but got an array with length {len(tools)} instead.", "session.tools",
                           "array_above_max_length")
        size = len(json.dumps(tools))
        if size > MAX_TOOLS_CHARS:
            return Problem(f"Invalid 'session.tools': the tool definitions are {size} characters; at most "
                           f"{MAX_TOOLS_CHARS} are accepted.", "session.tools", "string_above_max_length")
    metadata = update.get("metadata")
    if isinstance(metadata, dict):
        problem = _metadata_problem(metadata)
        if problem:
            return problem
    stack: list[tuple[str, Any]] = [("session." + key, value) for key, value in update.items()
                                    if key not in ("tools", "metadata")]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{path}.{k}", v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[{n}]", v) for n, v in enumerate(value))
        elif isinstance(value, str):
            limit = LONG_STRINGS.get(path, MAX_STRING_CHARS)
            if len(value) > limit:
                return Problem(f"Invalid '{path}': string too long. Expected a string with maximum length "
                               f"{limit}, but got a string with length {len(value)} instead.", path,
                               "string_above_max_length")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            problem = _number_problem(path, value)
            if problem:
                return problem
    return None


def _number_problem(path: str, value: float) -> Problem | None:
    if isinstance(value, float) and not math.isfinite(value):
        return Problem(f"Invalid '{path}': expected a finite number.", path)
    low, high = INT_RANGES.get(path, (-MAX_NUMBER, MAX_NUMBER))
    if value > high:
        return Problem(f"Invalid '{path}': number above maximum value. Expected a value <= {high:g}, but got "
                       f"{value:g} instead.", path, "integer_above_max_value")
    if value < low:
        return Problem(f"Invalid '{path}': number below minimum value. Expected a value >= {low:g}, but got "
                       f"{value:g} instead.", path, "integer_below_min_value")
    return None


def _metadata_problem(metadata: dict[str, Any]) -> Problem | None:
    """The documented limits: at most 16 pairs, keys ≤ 64 characters, values ≤ 512."""
    if len(metadata) > 16:
        return Problem("Invalid 'session.metadata': at most 16 pairs.", "session.metadata", "object_above_max_size")
    for key, value in metadata.items():
        if len(key) > 64:
            return Problem("Invalid 'session.metadata': keys have at most 64 characters.", "session.metadata",
                           "string_above_max_length")
        if not isinstance(value, str) or len(value) > 512:
            return Problem(f"Invalid 'session.metadata.{key}': a string of at most 512 characters.",
                           f"session.metadata.{key}", "string_above_max_length")
    return None
