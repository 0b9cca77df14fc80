"""Transcript exports: Markdown for people, JSONL for tools.

Rendering (`export_text`) is fast and reads the conversation, so it runs where the conversation lives;
writing (`write_export`) touches the disk, so the UI calls it with `asyncio.to_thread`. A failed write is
a `WriteError` with one sentence to show; nothing here ends the app.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Literal

import platformdirs

from app import APP_NAME
from app.conversation import Conversation, ToolCallRecord, Turn
from app.files import save_private

ExportKind = Literal["markdown", "jsonl"]
_ROLE = {"user": "You", "assistant": "Assistant", "system": "System"}
_SUFFIX: dict[ExportKind, str] = {"markdown": ".md", "jsonl": ".jsonl"}


def transcripts_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME)) / "transcripts"


def _when(turn: Turn) -> str:
    return time.strftime("%H:%M:%S", time.localtime(turn.started_at))


def _fenced(text: str) -> str:
    """A code block whose fence no run of backticks in `text` can close early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def _tool_call_lines(turn: Turn, call: ToolCallRecord) -> list[str]:
    name = f"{call.server_label}.{call.name}" if call.server_label else call.name
    outcome = {"done": "✓", "failed": "✗ failed", "declined": "⊘ declined"}.get(call.state, call.state)
    took = f" · {call.duration_ms} ms" if call.duration_ms is not None else ""
    lines = [f"**Tool call** · {_when(turn)} · `{name}` {outcome}{took}", "", "Arguments:", "",
             _fenced(call.arguments or "{}"), ""]
    if call.error:
        lines += ["Error:", "", _fenced(call.error), ""]
    elif call.result is not None:
        lines += ["Result:", "", _fenced(call.result), ""]
    return lines


def to_markdown(conversation: Conversation, title: str = "Voice Live conversation") -> str:
    lines = [f"# {title}", ""]
    for turn in conversation.turns:
        if turn.tool_call is not None:
            lines += _tool_call_lines(turn, turn.tool_call)
            continue
        text = turn.text.strip() or "…"
        note = ""
        if turn.interrupted_at_ms is not None:
            note = f" *(interrupted at {turn.interrupted_at_ms / 1000:.1f} s)*"
        elif turn.status not in ("completed", "in_progress"):
            note = f" *({turn.status})*"
        lines += [f"**{_ROLE.get(turn.role, turn.role)}** · {_when(turn)}{note}", "", text, ""]
    return "\n".join(lines)


def to_jsonl(conversation: Conversation) -> str:
    """The same records as the live transcript, one JSON object per line."""
    return "".join(json.dumps(turn.record(), ensure_ascii=False) + "\n" for turn in conversation.turns)


def export_text(conversation: Conversation, kind: ExportKind) -> str:
    """The export's content: call it where the conversation is changed (a consistent snapshot)."""
    return to_markdown(conversation) if kind == "markdown" else to_jsonl(conversation)


def export_path(transcript_path: Path, kind: ExportKind) -> Path:
    """Where an export of the conversation whose live transcript is `transcript_path` goes."""
    stem = transcript_path.with_suffix("")
    return stem.with_name(f"{stem.name}-export{_SUFFIX[kind]}")


def write_export(path: Path, text: str) -> Path:
    """Write an export atomically as a private file; blocking (use `asyncio.to_thread`); raises `WriteError`."""
    return save_private(path, text, what="the transcript export")
