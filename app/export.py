"""Transcript exports: Markdown for people, JSONL for tools. Pure functions plus an atomic write."""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import platformdirs

from app import APP_NAME
from app.conversation import Conversation, ToolCallRecord, Turn

_ROLE = {"user": "You", "assistant": "Assistant", "system": "System"}


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
    records = []
    for turn in conversation.turns:
        record = asdict(turn)
        record.pop("words")
        records.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(records) + ("\n" if records else "")


def write_atomic(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".export-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
