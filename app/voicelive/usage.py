"""Token usage as the service reports it in `response.done`, per response and summed over a session.

What a turn cost is part of tuning too: a longer silence window or a chattier preset shows up here.
Parsing is tolerant: a missing or malformed field counts as zero, never as an error.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Usage:
    """Tokens of one response (or a sum of them), split the way the service splits them."""

    input_tokens: int = 0
    output_tokens: int = 0
    input_text: int = 0
    input_audio: int = 0
    input_cached: int = 0
    output_text: int = 0
    output_audio: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    @classmethod
    def from_response(cls, response: dict[str, Any]) -> Usage | None:
        """The `usage` object of a `response.done` response; None when the service sent none."""
        usage = response.get("usage")
        if not isinstance(usage, dict):
            return None
        given = _section(usage, "input_token_details")
        made = _section(usage, "output_token_details")
        return cls(input_tokens=_count(usage, "input_tokens"), output_tokens=_count(usage, "output_tokens"),
                   input_text=_count(given, "text_tokens"), input_audio=_count(given, "audio_tokens"),
                   input_cached=_count(given, "cached_tokens"), output_text=_count(made, "text_tokens"),
                   output_audio=_count(made, "audio_tokens"))

    def describe(self) -> str:
        """`in 120 (audio 100, cached 20) · out 340 (audio 300)`: for a turn's details line."""
        def side(total: int, audio: int, cached: int | None = None) -> str:
            parts = [f"audio {audio}"] if audio else []
            if cached:
                parts.append(f"cached {cached}")
            return f"{total}" + (f" ({', '.join(parts)})" if parts else "")
        return (f"tokens in {side(self.input_tokens, self.input_audio, self.input_cached)} · "
                f"out {side(self.output_tokens, self.output_audio)}")


def short_count(tokens: int) -> str:
    """1234 → 1.2k; for the status line."""
    if tokens < 1000:
        return str(tokens)
    if tokens < 100_000:
        return f"{tokens / 1000:.1f}k"
    return f"{tokens // 1000}k"


def _section(usage: dict[str, Any], key: str) -> dict[str, Any]:
    value = usage.get(key)
    return value if isinstance(value, dict) else {}


def _count(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
