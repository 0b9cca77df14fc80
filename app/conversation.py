"""The conversation as data: turns in order, their text, and how each ended. No UI, no sockets.

The session keeps one of these (to replay context after a reconnect and to export); the log widget mirrors
it. Completed turns can be appended to a JSONL transcript as they finish (by a `TranscriptWriter` on its own
thread, fsynced each time), so a crash loses at most the turn in flight and no event loop waits for a disk.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from app.protocol.client_events import assistant_text_item, user_text_item
from app.transcript import TranscriptWriter

Role = Literal["user", "assistant", "system"]


@dataclass
class WordTime:
    offset_ms: int
    duration_ms: int
    text: str


@dataclass(frozen=True)
class ToolCallRecord:
    """A tool call in its final state (done, failed or declined): what the transcript and exports keep."""

    call_id: str
    name: str
    arguments: str
    state: str  # done | failed | declined
    result: str | None = None
    error: str | None = None
    duration_ms: int | None = None
    kind: str = "function"  # function | mcp
    server_label: str | None = None
    response_id: str | None = None


@dataclass
class Turn:
    item_id: str
    role: Role
    text: str = ""
    status: str = "in_progress"  # in_progress | completed | cancelled | failed | incomplete
    typed: bool = False
    interrupted_at_ms: int | None = None
    started_at: float = field(default_factory=time.time)
    words: list[WordTime] = field(default_factory=list)
    tool_call: ToolCallRecord | None = None  # set on the entries `add_tool_call` makes (they have no text)

    @property
    def done(self) -> bool:
        return self.status != "in_progress"

    def heard_text(self, played_ms: int) -> str:
        """The transcript cut after the last word that had started playing by `played_ms`."""
        heard = [w.text for w in self.words if w.offset_ms < played_ms]
        return " ".join(heard)

    def record(self) -> dict[str, Any]:
        """The turn as one transcript/export JSON object (word timings are left out: they are for replay)."""
        record = asdict(self)
        record.pop("words")
        return record


class Conversation:
    """The turns, and (optionally) their transcript: give a path, or a writer to share or inspect."""

    def __init__(self, transcript_path: Path | None = None, *, writer: TranscriptWriter | None = None) -> None:
        self.turns: list[Turn] = []
        self._by_id: dict[str, Turn] = {}
        self.transcript = writer or (TranscriptWriter(transcript_path) if transcript_path is not None else None)

    def snapshot(self) -> Conversation:
        """A copy for another thread to read (exports): the turns as they are now, no transcript file."""
        copy = Conversation()
        for turn in self.turns:
            clone = replace(turn, words=list(turn.words))
            copy.turns.append(clone)
            copy._by_id[clone.item_id] = clone  # the same class: its own index, not another module's
        return copy

    def get(self, item_id: str) -> Turn | None:
        return self._by_id.get(item_id)

    def add(self, item_id: str, role: Role, text: str = "", *, typed: bool = False) -> Turn:
        turn = self._by_id.get(item_id)
        if turn is None:
            turn = Turn(item_id=item_id, role=role, text=text, typed=typed)
            self.turns.append(turn)
            self._by_id[item_id] = turn
        return turn

    def finish(self, item_id: str, status: str = "completed", text: str | None = None) -> Turn | None:
        turn = self._by_id.get(item_id)
        if turn is None or turn.done:
            return turn
        if text is not None:
            turn.text = text
        turn.status = status
        if self.transcript is not None:
            self.transcript.submit(turn.record())
        return turn

    def close(self, timeout: float = 2.0) -> bool:
        """Finish writing the transcript (bounded wait); True if every finished turn is on disk."""
        return self.transcript.close(timeout) if self.transcript is not None else True

    def add_tool_call(self, item_id: str, record: ToolCallRecord) -> Turn:
        """A finished tool call as an entry of its own, written to the transcript at once (one per call)."""
        started = time.time() - (record.duration_ms or 0) / 1000
        turn = self._by_id.get(item_id)
        if turn is None:
            turn = Turn(item_id=item_id, role="assistant", started_at=started)
            self.turns.append(turn)
            self._by_id[item_id] = turn
        elif turn.done:
            return turn  # recorded already
        turn.tool_call = record
        self.finish(item_id, "completed" if record.state == "done" else record.state)
        return turn

    def replay_items(self) -> list[dict[str, Any]]:
        """Completed turns as text items, for re-creating context on a new connection (tool-call entries have
        no text and are not replayed)."""
        items = []
        for turn in self.turns:
            if not turn.done or not turn.text:
                continue
            text = turn.text if turn.interrupted_at_ms is None else turn.heard_text(turn.interrupted_at_ms) or turn.text
            items.append(assistant_text_item(text) if turn.role == "assistant" else user_text_item(text, turn.role))
        return items
