"""The emulator's view of a session: the service's defaults, partial updates, validation with a `param`.

Validation reuses the client's pydantic models, so the emulator and the app agree on what is valid.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from pydantic import ValidationError

from app.audio import SAMPLE_RATE
from app.emulator.audio_formats import G711_RATE
from app.protocol.session import SessionConfig
from app.protocol.validation import first_problem

# Fields the service accepts that this emulator stores but does not act on.
PASSTHROUGH = {
    "tools", "tool_choice", "parallel_tool_calls", "animation", "avatar", "interim_response", "include",
    "metadata", "reasoning_effort",
}
SERVER_ONLY = {"id", "object", "expires_at", "agent"}
ANIMATION_OUTPUTS = ("blendshapes", "viseme_id")


def default_session(model: str, session_cap_s: float) -> dict[str, Any]:
    """What `session.created` carries: the service's own defaults (not the app's)."""
    return {
        "id": "sess_" + uuid.uuid4().hex[:20],
        "object": "realtime.session",
        "model": model,
        "expires_at": int(time.time() + session_cap_s),
        "modalities": ["text", "audio"],
        "instructions": "",
        "voice": {"type": "azure-standard", "name": "en-US-AvaNeural", "temperature": 0.8},
        "input_audio_format": "pcm16",
        "output_audio_format": "pcm16",
        "input_audio_sampling_rate": 24000,
        "turn_detection": {
            "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 500,
            "create_response": True, "interrupt_response": True, "auto_truncate": False,
        },
        "input_audio_noise_reduction": None,
        "input_audio_echo_cancellation": None,
        "input_audio_transcription": None,
        "tools": [],
        "tool_choice": "auto",
        "temperature": 0.8,
        "max_response_output_tokens": "inf",
    }


class SessionUpdateError(ValueError):
    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


def apply_update(current: dict[str, Any], update: Any) -> dict[str, Any]:
    """Merge a partial `session` object into the current one; raise SessionUpdateError naming the param."""
    if not isinstance(update, dict):
        raise SessionUpdateError("session must be an object", "session")
    known = set(SessionConfig.model_fields) | PASSTHROUGH
    for key in update:
        if key == "model" and update[key] != current.get("model"):
            raise SessionUpdateError("the model cannot be changed with session.update", "session.model")
        if key not in known and key not in SERVER_ONLY:
            raise SessionUpdateError(f"unknown parameter '{key}'", f"session.{key}")
    merged = {**current, **{k: v for k, v in update.items() if k not in SERVER_ONLY}}
    candidate = {k: v for k, v in merged.items() if k in SessionConfig.model_fields}
    try:
        validated = SessionConfig.model_validate(candidate)
    except ValidationError as exc:
        loc = exc.errors()[0]["loc"]  # the service names union members its own way (see param_path)
        raise SessionUpdateError(first_problem(exc).phrase, ".".join(["session", *param_path(loc)])) from None
    # Store the normalised form of what was sent (explicit nulls stay null).
    normalised = validated.model_dump(mode="json", exclude_none=True)
    for key in update:
        if key in SessionConfig.model_fields:
            merged[key] = normalised.get(key)
    _audio_rates(current, update, merged)
    for key, check in (("tool_choice", _tool_choice_problem), ("animation", _animation_problem)):
        if key in update:
            problem = check(update[key])
            if problem:
                raise SessionUpdateError(problem, f"session.{key}")
    return merged


_UNION_TAGS = {"function", "mcp", "static_interim_response", "llm_interim_response"}


def param_path(loc: tuple[int | str, ...]) -> list[str]:
    """A pydantic error location as the service names a param: validator names, union members and
    discriminator tags dropped (`tools.0.function.name` → `tools.0.name`)."""
    parts: list[str] = []
    for part in (str(p) for p in loc):
        if part.startswith("function-") or part[:1].isupper() or "[" in part:
            continue
        if part in _UNION_TAGS and parts and (parts[-1].isdigit() or parts[-1] == "interim_response"):
            continue
        parts.append(part)
    return parts


def _audio_rates(current: dict[str, Any], update: dict[str, Any], merged: dict[str, Any]) -> None:
    """G.711 is 8 kHz only; a change of input format without a rate takes that format's default rate."""
    fmt = merged.get("input_audio_format", "pcm16")
    if "input_audio_format" in update and "input_audio_sampling_rate" not in update \
            and fmt != current.get("input_audio_format"):
        merged["input_audio_sampling_rate"] = G711_RATE if fmt.startswith("g711") else SAMPLE_RATE
    if fmt.startswith("g711") and merged.get("input_audio_sampling_rate") != G711_RATE:
        raise SessionUpdateError(f"{fmt} input is sampled at 8000 Hz; input_audio_sampling_rate must be 8000",
                                 "session.input_audio_sampling_rate")


def _tool_choice_problem(choice: Any) -> str | None:
    if choice in ("auto", "none", "required"):
        return None
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("name"), str) \
            and choice["name"]:
        return None
    return "tool_choice must be 'auto', 'none', 'required' or {\"type\": \"function\", \"name\": ...}"


def _animation_problem(animation: Any) -> str | None:
    if animation is None:
        return None
    if not isinstance(animation, dict):
        return "animation must be an object"
    outputs = animation.get("outputs", [])
    if not isinstance(outputs, list) or not all(o in ANIMATION_OUTPUTS for o in outputs):
        return "animation.outputs must be a list of 'blendshapes' and 'viseme_id'"
    if not isinstance(animation.get("model_name", ""), str):
        return "animation.model_name must be a string"
    return None
