"""What the session tells its owner, as plain frozen dataclasses (the UI wraps each in a Textual message).

Named in the past tense: each says something that has happened. State notices (`replaceable`) carry the
whole state, so a burst of them may collapse to the latest; conversation notices are each an event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from app.protocol.session import SessionConfig
from app.tools.call_state import ApprovalRequest, ToolCallState
from app.voicelive.timeline import Summary, TurnTiming
from app.voicelive.usage import Usage


@dataclass(frozen=True)
class Notice:
    """Base class."""

    replaceable: ClassVar[bool] = False  # a later notice of the same type supersedes this one


@dataclass(frozen=True)
class ConnectionChanged(Notice):
    replaceable: ClassVar[bool] = True
    state: str  # connecting | connected | reconnecting | closed | failed
    detail: str = ""
    attempt: int = 0


@dataclass(frozen=True)
class SessionStarted(Notice):
    session_id: str
    model: str
    agent: str | None = None  # the Foundry agent's name, when the session talks to one


@dataclass(frozen=True)
class ConfigChanged(Notice):
    """The desired configuration (last requested) or the confirmed one (live at the service) moved.

    `pending` is true while the desired one is in flight or waiting to be sent.
    """

    replaceable: ClassVar[bool] = True
    desired: SessionConfig
    confirmed: SessionConfig | None
    pending: bool


@dataclass(frozen=True)
class SessionRejected(Notice):
    """The service refused a `session.update`; the desired configuration rolled back to the live one."""

    message: str
    param: str | None = None


@dataclass(frozen=True)
class MuteChanged(Notice):
    replaceable: ClassVar[bool] = True
    muted: bool


@dataclass(frozen=True)
class TalkChanged(Notice):
    """Push-to-talk: whether turn detection is off (the talk key makes the turns), and whether the user is
    talking now (the microphone goes to the service only then)."""

    replaceable: ClassVar[bool] = True
    push_to_talk: bool
    talking: bool = False


@dataclass(frozen=True)
class SpeechStarted(Notice):
    item_id: str | None
    audio_start_ms: int


@dataclass(frozen=True)
class SpeechStopped(Notice):
    item_id: str | None
    audio_end_ms: int


@dataclass(frozen=True)
class InputCommitted(Notice):
    """The service committed the input audio buffer as a user item (by its VAD, or our push-to-talk)."""

    item_id: str


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
class ReplyAudioStarted(Notice):
    """The first audio of a reply arrived (it is audible a jitter buffer later)."""

    item_id: str


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
    usage: Usage | None = None  # tokens of the response that made it, from response.done


@dataclass(frozen=True)
class ResponseUsage(Notice):
    """What one response cost, from its `response.done` (also for responses without a spoken reply)."""

    response_id: str | None
    usage: Usage


@dataclass(frozen=True)
class UsageChanged(Notice):
    """Tokens used in this session so far, summed over every response."""

    replaceable: ClassVar[bool] = True
    total: Usage
    responses: int


@dataclass(frozen=True)
class TimelineChanged(Notice):
    """The turn timeline moved: the last turns, and medians per turn-detection setting (`current` is the
    setting live now, as a `turn_key`)."""

    replaceable: ClassVar[bool] = True
    turns: tuple[TurnTiming, ...]
    summaries: tuple[Summary, ...]
    current: str


@dataclass(frozen=True)
class ServiceError(Notice):
    message: str
    code: str | None = None
    repeats: int = 1  # the same error again: the UI updates its last line ("×N") instead of adding one


@dataclass(frozen=True)
class Info(Notice):
    message: str
    level: str = "information"
    extra: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------------- tools (issue 14)
@dataclass(frozen=True)
class ToolCallChanged(Notice):
    """A tool call is new or moved on (arguments complete, waiting for approval, running, a result).

    A newer notice for the same `call_id` supersedes an older one (the UI may coalesce them).
    """

    state: ToolCallState


@dataclass(frozen=True)
class ToolApprovalRequested(Notice):
    """A tool wants to run and the user must say yes or no (`VoiceLiveSession.answer_approval`); the session
    goes on meanwhile."""

    request: ApprovalRequest


@dataclass(frozen=True)
class ToolApprovalWithdrawn(Notice):
    """A question that no longer needs an answer (the connection it belonged to was lost)."""

    request_id: str
