"""Textual messages: how the session (a plain object on the loop) reaches the UI.

The session emits plain `Notice` dataclasses; the App posts each one wrapped in `SessionNotice`, and the
handler dispatches on the notice's type. Keeping the notices Textual-free lets tests drive the session
without a UI, as the layering contracts require.
"""

from __future__ import annotations

from textual.message import Message

from app.voicelive.notices import Notice


class SessionNotice(Message):
    """Something happened in the voice session."""

    def __init__(self, notice: Notice) -> None:
        super().__init__()
        self.notice = notice


class EndpointResolved(Message):
    """The session worker knows where it will connect (host only: never the key)."""

    def __init__(self, host: str, local: bool) -> None:
        super().__init__()
        self.host = host
        self.local = local


class AudioModeChanged(Message):
    """Audio started, or could not (`reason` says why, in one sentence): text mode."""

    def __init__(self, reason: str | None, notes: list[str] | None = None) -> None:
        super().__init__()
        self.reason = reason
        self.notes = list(notes or [])
