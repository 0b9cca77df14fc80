"""Transcript exports: Markdown for people, JSONL for tools. Pure functions plus an atomic write."""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import platformdirs

from app import APP_NAME
from app.conversation import Conversation, Turn

_ROLE = {"user": "You", "assistant": "Assistant", "system": "System"}


def transcripts_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME)) / "transcripts"


def _when(turn: Turn) -> str:
    return time.strftime("%H:%M:%S", time.localtime(turn.started_at))


def to_markdown(conversation: Conversation, title: str = "Voice Live conversation") -> str:
    lines = [f"# {title}", ""]
    for turn in conversation.turns:
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
