"""Names for turn-detection settings: a short label for people, and a key that tells two settings apart.

The status line, the timeline strip and the preset comparison all name a configuration the same way, so
"semantic 0.30 200ms" on the status line is the row to look for in the comparison.
"""

from __future__ import annotations

from app.protocol.session import TurnDetection

PUSH_TO_TALK = "push-to-talk"

_SHORT = {"server_vad": "server-vad", "azure_semantic_vad": "semantic", "azure_semantic_vad_en": "semantic-en",
          "azure_semantic_vad_multilingual": "semantic-multi", "semantic_vad": "openai-semantic"}


def short_vad(kind: str) -> str:
    return _SHORT.get(kind, kind)


def turn_label(td: TurnDetection | None) -> str:
    """`semantic 0.30 200ms`, or `push-to-talk` when turn detection is off."""
    if td is None:
        return PUSH_TO_TALK
    return f"{short_vad(td.type)} {td.threshold:.2f} {td.silence_duration_ms}ms"


def turn_key(td: TurnDetection | None) -> str:
    """Everything that changes when a turn ends, as one string: equal keys, equal turn-taking."""
    if td is None:
        return PUSH_TO_TALK
    return td.model_dump_json(exclude_none=True)
