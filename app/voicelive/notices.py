"""What the session tells its owner, as plain frozen dataclasses (the App wraps them in one Textual message).

Named in the past tense: each says something that has happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.protocol.session import SessionConfig


@dataclass(frozen=True)
class Notice:
    """Base class."""


@dataclass(frozen=True)
class ConnectionChanged(Notice):
    state: str  # connecting | connected | reconnecting | closed | failed
    detail: str = ""
    attempt: int = 0


@dataclass(frozen=True)
class SessionStarted(Notice):
    session_id: str
    model: str


@dataclass(frozen=True)
class SessionApplied(Notice):
    """`session.updated` confirmed a configuration: it is now the live one."""

    config: SessionConfig


@dataclass(frozen=True)
class SessionRejected(Notice):
    """The service refused a `session.update`; the previous configuration stays live."""

    message: str
    param: str | None = None


@dataclass(frozen=True)
class SpeechStarted(Notice):
    item_id: str | None
    audio_start_ms: int


@dataclass(frozen=True)
class SpeechStopped(Notice):
    item_id: str | None
    audio_end_ms: int


@dataclass(frozen=True)
class UserTurnAdded(Notice):
    item_id: str
    text: str | None = None  # typed text; None while a spoken turn waits for its transcript


@dataclass(frozen=True)
class UserTranscribed(Notice):
    item_id: str
    text: str
    final: bool = True
    failed: bool = False


@dataclass(frozen=True)
class AssistantTurnStarted(Notice):
    item_id: str
    response_id: str | None


@dataclass(frozen=True)
class AssistantTextDelta(Notice):
    item_id: str
    delta: str


@dataclass(frozen=True)
class AssistantTurnEnded(Notice):
    item_id: str
    status: str  # completed | cancelled | failed | incomplete
    text: str
    interrupted_at_ms: int | None = None
    heard_text: str | None = None  # the transcript cut at the last word heard, when timestamps exist
    first_audio_ms: int | None = None  # end of the user's turn (speech stopped / text sent) → first audio
    audio_ms: int = 0  # reply audio received


@dataclass(frozen=True)
class ServiceError(Notice):
    message: str
    code: str | None = None


@dataclass(frozen=True)
class Info(Notice):
    message: str
    level: str = "information"
    extra: dict[str, str] = field(default_factory=dict)
