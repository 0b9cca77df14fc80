"""Typed server events, and tolerant parsing of what arrives on the socket (client events: client_events.py).

Parsing never raises for something the service might legitimately send: an unknown `type` becomes an
`UnknownEvent` and extra fields are ignored, so a new service feature cannot end a session. Only a frame
that is not a JSON object with a string `type`, or a known event whose fields have the wrong types, is a
`ProtocolError`; the session logs it once and skips it.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from app.protocol import tool_events as _tool_events  # noqa: F401 - registers the tool events below
from app.protocol.events_base import ServerEvent as ServerEvent  # re-exported: consumers type events as ev.ServerEvent


class ProtocolError(ValueError):
    """A frame that cannot be understood; `kind` groups them for rate-limited logging."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


# ----------------------------------------------------------------------------------------------- server
class UnknownEvent(ServerEvent):
    """An event type this client does not know; kept whole so it can be logged and ignored."""

    raw: dict[str, Any] = {}


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    type: str | None = None
    code: str | None = None
    message: str = ""
    param: str | None = None
    event_id: str | None = None


class SessionCreated(ServerEvent):
    TYPE = "session.created"
    session: dict[str, Any]


class SessionUpdated(ServerEvent):
    TYPE = "session.updated"
    session: dict[str, Any]


class Error(ServerEvent):
    TYPE = "error"
    error: ErrorDetail


class Warning_(ServerEvent):
    TYPE = "warning"
    warning: ErrorDetail


class RateLimitsUpdated(ServerEvent):
    TYPE = "rate_limits.updated"
    rate_limits: list[dict[str, Any]] = []


class SpeechStarted(ServerEvent):
    TYPE = "input_audio_buffer.speech_started"
    audio_start_ms: int = 0
    item_id: str | None = None


class SpeechStopped(ServerEvent):
    TYPE = "input_audio_buffer.speech_stopped"
    audio_end_ms: int = 0
    item_id: str | None = None


class InputAudioCommitted(ServerEvent):
    TYPE = "input_audio_buffer.committed"
    item_id: str
    previous_item_id: str | None = None


class InputAudioCleared(ServerEvent):
    TYPE = "input_audio_buffer.cleared"


class OutputAudioCleared(ServerEvent):
    TYPE = "output_audio_buffer.cleared"


class ItemCreated(ServerEvent):
    TYPE = "conversation.item.created"
    item: dict[str, Any]
    previous_item_id: str | None = None


class ItemRetrieved(ServerEvent):
    TYPE = "conversation.item.retrieved"
    item: dict[str, Any]


class ItemTruncated(ServerEvent):
    TYPE = "conversation.item.truncated"
    item_id: str
    content_index: int = 0
    audio_end_ms: int = 0


class ItemDeleted(ServerEvent):
    TYPE = "conversation.item.deleted"
    item_id: str


class TranscriptionDelta(ServerEvent):
    TYPE = "conversation.item.input_audio_transcription.delta"
    item_id: str
    content_index: int | None = None
    delta: str | None = None


class TranscriptionCompleted(ServerEvent):
    TYPE = "conversation.item.input_audio_transcription.completed"
    item_id: str
    content_index: int = 0
    transcript: str = ""


class TranscriptionFailed(ServerEvent):
    TYPE = "conversation.item.input_audio_transcription.failed"
    item_id: str
    content_index: int = 0
    error: ErrorDetail


class ResponseCreated(ServerEvent):
    TYPE = "response.created"
    response: dict[str, Any]


class ResponseDone(ServerEvent):
    TYPE = "response.done"
    response: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.response.get("status", ""))

    @property
    def response_id(self) -> str | None:
        value = self.response.get("id")
        return value if isinstance(value, str) else None


class OutputItemAdded(ServerEvent):
    TYPE = "response.output_item.added"
    response_id: str | None = None
    output_index: int = 0
    item: dict[str, Any]


class OutputItemDone(ServerEvent):
    TYPE = "response.output_item.done"
    response_id: str | None = None
    output_index: int = 0
    item: dict[str, Any]


class _ContentEvent(ServerEvent):
    response_id: str | None = None
    item_id: str
    output_index: int = 0
    content_index: int = 0


class ContentPartAdded(_ContentEvent):
    TYPE = "response.content_part.added"
    part: dict[str, Any] = {}


class ContentPartDone(_ContentEvent):
    TYPE = "response.content_part.done"
    part: dict[str, Any] = {}


class TextDelta(_ContentEvent):
    TYPE = "response.text.delta"
    delta: str


class TextDone(_ContentEvent):
    TYPE = "response.text.done"
    text: str = ""


class AudioTranscriptDelta(_ContentEvent):
    TYPE = "response.audio_transcript.delta"
    delta: str


class AudioTranscriptDone(_ContentEvent):
    TYPE = "response.audio_transcript.done"
    transcript: str = ""


class AudioDelta(_ContentEvent):
    """Base64 PCM; decoding is left to the consumer so that bad base64 is its decision to log."""

    TYPE = "response.audio.delta"
    delta: str


class AudioDone(_ContentEvent):
    TYPE = "response.audio.done"


class AudioTimestampDelta(_ContentEvent):
    TYPE = "response.audio_timestamp.delta"
    audio_offset_ms: int
    audio_duration_ms: int = 0
    text: str = ""
    timestamp_type: str = "word"


class AudioTimestampDone(_ContentEvent):
    TYPE = "response.audio_timestamp.done"


class AnimationVisemeDelta(_ContentEvent):
    TYPE = "response.animation_viseme.delta"
    audio_offset_ms: int = 0
    viseme_id: int = 0


class AnimationVisemeDone(_ContentEvent):
    TYPE = "response.animation_viseme.done"


class AnimationBlendshapesDelta(_ContentEvent):
    TYPE = "response.animation_blendshapes.delta"
    frames: Any = None
    frame_index: int = 0


class AnimationBlendshapesDone(_ContentEvent):
    TYPE = "response.animation_blendshapes.done"


class TranscriptAnnotationAdded(_ContentEvent):
    TYPE = "response.audio_transcript.annotation.added"
    annotation_index: int = 0
    annotation: dict[str, Any] = {}


class VideoDelta(ServerEvent):
    TYPE = "response.video.delta"
    output_index: int = 0
    codec: str | None = None
    delta: str = ""


class InvocationDelta(ServerEvent):
    TYPE = "response.invocation.delta"
    delta: dict[str, Any] = {}


class AvatarConnecting(ServerEvent):
    TYPE = "session.avatar.connecting"
    server_sdp: str = ""


class AvatarSwitch(ServerEvent):
    """`session.avatar.switch_to_speaking` / `switch_to_idle`."""

    TYPE = "session.avatar.switch_to_speaking"
    turn_id: str | None = None


class ToolProgress(ServerEvent):
    """The web-search and file-search progress events: shown at most as a notice (MCP: tool_events.py)."""

    TYPE = "response.web_search_call.in_progress"
    response_id: str | None = None
    item_id: str | None = None
    output_index: int = 0


_TOOL_PROGRESS_TYPES = (
    "response.web_search_call.searching", "response.web_search_call.in_progress",
    "response.web_search_call.completed",
    "response.file_search_call.searching", "response.file_search_call.in_progress",
    "response.file_search_call.completed",
)


def _subclasses(cls: type[ServerEvent]) -> list[type[ServerEvent]]:
    found: list[type[ServerEvent]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


SERVER_EVENTS: dict[str, type[ServerEvent]] = {c.TYPE: c for c in _subclasses(ServerEvent) if c.TYPE}
SERVER_EVENTS["session.avatar.switch_to_idle"] = AvatarSwitch
SERVER_EVENTS.update({name: ToolProgress for name in _TOOL_PROGRESS_TYPES})


def parse_server_event(frame: str | bytes | dict[str, Any]) -> ServerEvent:
    """Parse one frame. Raises `ProtocolError` only for frames that are not events at all or are malformed."""
    if isinstance(frame, dict):
        data: Any = frame
    else:
        try:
            data = json.loads(frame)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProtocolError("invalid JSON", str(exc)[:120]) from None
    if not isinstance(data, dict):
        raise ProtocolError("not an object", type(data).__name__)
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("missing type", "no string 'type' field")
    cls = SERVER_EVENTS.get(kind)
    if cls is None:
        event_id = data.get("event_id")
        return UnknownEvent(type=kind, event_id=event_id if isinstance(event_id, str) else None, raw=data)
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ProtocolError(f"malformed {kind}", f"{where}: {first['msg']}") from None
