"""Named turn-detection presets: `[presets.NAME]` tables in the config file, to switch between and compare.

A preset holds the fields of `[session.turn_detection]` (the service's defaults fill the rest), or
`push_to_talk = true` for turn detection off:

    [presets.snappy]
    type = "server_vad"
    threshold = 0.4
    silence_duration_ms = 300

    [presets.manual]
    push_to_talk = true

Saving rewrites only the `presets` table of the file, atomically (temp file, fsync, rename), keeping the
file's mode (0600 for a new one: it may hold the API key). No Textual; file I/O runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, model_serializer, model_validator

from app.protocol.session import TurnDetection
from app.protocol.turn_labels import PUSH_TO_TALK, turn_key, turn_label

if TYPE_CHECKING:
    from app.voicelive.timeline import Summary

NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")


class PresetError(ValueError):
    """A preset that cannot be saved; the message is one sentence for the user."""


class Preset(BaseModel):
    """One named turn-detection setting (None: push-to-talk)."""

    model_config = ConfigDict(frozen=True)
    turn_detection: TurnDetection | None

    @model_validator(mode="before")
    @classmethod
    def _from_table(cls, data: Any) -> Any:
        """The config file's flat table → the model; unknown keys are errors (a typo must not pass quietly)."""
        if not isinstance(data, dict) or "turn_detection" in data:
            return data
        unknown = sorted(set(data) - set(TurnDetection.model_fields) - {"push_to_talk"})
        if unknown:
            raise ValueError(f"unknown preset setting {unknown[0]!r}")
        table = dict(data)
        if table.pop("push_to_talk", False) is True:
            return {"turn_detection": None}
        return {"turn_detection": table}

    @model_serializer
    def _to_table(self) -> dict[str, Any]:
        if self.turn_detection is None:
            return {"push_to_talk": True}
        return self.turn_detection.model_dump(mode="json", exclude_none=True)

    @property
    def key(self) -> str:
        return turn_key(self.turn_detection)


class PresetBook:
    """The presets the user has, and where they are saved. Lives on the UI side; the session never sees it."""

    def __init__(self, presets: dict[str, Preset], path: Path,
                 saved: Callable[[dict[str, Preset]], None] | None = None) -> None:
        self.presets = dict(presets)
        self.path = path
        self._saved = saved  # told after each save (so a later save of all settings keeps the presets)

    @property
    def names(self) -> list[str]:
        return sorted(self.presets)

    def name_for(self, key: str) -> str | None:
        """The preset whose settings are exactly `key` (a `turn_key`), if there is one."""
        return next((name for name in self.names if self.presets[name].key == key), None)

    async def save(self, name: str, turn_detection: TurnDetection | None) -> Path:
        """Add or replace a preset and write the file (in a worker thread). Raises PresetError or WriteError."""
        name = name.strip()
        if not NAME.fullmatch(name):
            raise PresetError("A preset name is 1–32 letters, digits, '-' or '_' (it becomes a TOML table name).")
        presets = {**self.presets, name: Preset(turn_detection=turn_detection)}
        path = await asyncio.to_thread(write_presets, self.path, presets)
        self.presets = presets
        if self._saved is not None:
            self._saved(presets)
        return path


def write_presets(path: Path, presets: dict[str, Preset]) -> Path:
    """Write the presets into the config file at `path` (created if missing), keeping everything else in
    it, comments included; raises `app.files.WriteError` (one sentence)."""
    from app.config_file import save_changes  # it builds on app.config, which builds on this module

    return save_changes(path, {("presets", name): preset.model_dump() for name, preset in sorted(presets.items())})


@dataclass(frozen=True)
class ComparisonRow:
    """One line of the presets screen: a saved preset or a setting used in this session, with its medians."""

    name: str | None  # the preset's name; None for settings used but not saved
    label: str
    key: str
    turn_detection: TurnDetection | None
    summary: Summary | None = None  # when turns were taken with it
    current: bool = False


def comparison_rows(book: PresetBook, summaries: Sequence[Summary], current_key: str,
                    current: TurnDetection | None) -> list[ComparisonRow]:
    """Saved presets first (by name), then the other settings used this session, in the order first used."""
    by_key = {summary.settings: summary for summary in summaries}
    rows = [ComparisonRow(name=name, label=turn_label(preset.turn_detection), key=preset.key,
                          turn_detection=preset.turn_detection, summary=by_key.get(preset.key),
                          current=preset.key == current_key)
            for name, preset in sorted(book.presets.items())]
    saved = {row.key for row in rows}
    for summary in summaries:
        if summary.settings not in saved:
            rows.append(ComparisonRow(name=None, label=summary.label, key=summary.settings,
                                      turn_detection=from_key(summary.settings), summary=summary,
                                      current=summary.settings == current_key))
            saved.add(summary.settings)
    if current_key not in saved:
        rows.append(ComparisonRow(name=None, label=turn_label(current), key=current_key, turn_detection=current,
                                  current=True))
    return rows


def from_key(key: str) -> TurnDetection | None:
    """The settings a `turn_key` names (it is their JSON)."""
    return None if key == PUSH_TO_TALK else TurnDetection.model_validate_json(key)
