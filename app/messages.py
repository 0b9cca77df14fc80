"""Textual messages: how the session (a plain object on its own thread) and the audio reach the UI.

The session emits plain `Notice` dataclasses (no Textual, so it runs and is tested without a UI);
`message_for` wraps each in the message type its handler expects. State messages carry the whole state
and `can_replace` an older one still queued, so a burst collapses to the latest; conversation messages
are events and keep their order.
"""

from __future__ import annotations

from textual.message import Message

from app.voicelive import notices as nt


class SessionMessage(Message):
    def __init__(self, notice: nt.Notice) -> None:
        super().__init__()
        self.notice = notice

    def can_replace(self, message: Message) -> bool:
        return self.notice.replaceable and type(message) is type(self) and (
            type(getattr(message, "notice", None)) is type(self.notice))


class ConnectionStateChanged(SessionMessage):
    """Connecting, connected, reconnecting, closed or failed."""

    notice: nt.ConnectionChanged


class ConfigStateChanged(SessionMessage):
    """The desired and confirmed session configuration."""

    notice: nt.ConfigChanged


class MuteStateChanged(SessionMessage):
    notice: nt.MuteChanged


class TalkStateChanged(SessionMessage):
    """Push-to-talk on or off, and whether the user is talking."""

    notice: nt.TalkChanged


class TimelineUpdated(SessionMessage):
    """The last turns' timings and the medians per turn-detection setting."""

    notice: nt.TimelineChanged


class UsageUpdated(SessionMessage):
    """Tokens used in the session so far."""

    notice: nt.UsageChanged


class ConversationUpdated(SessionMessage):
    """A turn, a delta, speech detected, an error: something for the conversation log."""


class ToolCallUpdated(SessionMessage):
    """A tool call's newest state; it supersedes a queued older state of the same call."""

    notice: nt.ToolCallChanged

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ToolCallUpdated) and message.notice.state.call_id == self.notice.state.call_id


class ToolApprovalChanged(SessionMessage):
    """A tool asks to run (the approval prompt opens), or its question was withdrawn (it closes)."""

    notice: nt.ToolApprovalRequested | nt.ToolApprovalWithdrawn


_MESSAGE_FOR: dict[type[nt.Notice], type[SessionMessage]] = {
    nt.ConnectionChanged: ConnectionStateChanged, nt.ConfigChanged: ConfigStateChanged,
    nt.MuteChanged: MuteStateChanged, nt.ToolCallChanged: ToolCallUpdated,
    nt.ToolApprovalRequested: ToolApprovalChanged, nt.ToolApprovalWithdrawn: ToolApprovalChanged,
    nt.TalkChanged: TalkStateChanged, nt.TimelineChanged: TimelineUpdated, nt.UsageChanged: UsageUpdated,
}


def message_for(notice: nt.Notice) -> SessionMessage:
    """The message type a notice's handler expects; anything else is for the conversation log."""
    return _MESSAGE_FOR.get(type(notice), ConversationUpdated)(notice)


class EndpointResolved(Message):
    """Where the session will connect (host only: never the key), to which model, and who said so."""

    def __init__(self, host: str, local: bool, model: str, source: str = "", *, agent: str | None = None) -> None:
        super().__init__()
        self.host = host
        self.local = local
        self.model = model
        self.source = source  # where the endpoint came from: ".env", "config file", "command line", ...
        self.agent = agent  # a Foundry agent replaces the model


class AudioModeChanged(Message):
    """Audio started, or could not (`reason` says why, in one sentence): text mode."""

    def __init__(self, reason: str | None, notes: list[str] | None = None) -> None:
        super().__init__()
        self.reason = reason
        self.notes = list(notes or [])
