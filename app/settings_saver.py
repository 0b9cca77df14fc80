"""Saving what the user changed in the settings screen, into the file the settings came from.

Only the difference from the settings as they were loaded is written (through `save_changes`, which
keeps every other key and comment of the file — presets saved meanwhile included), so one-off flags, a key
saved with `--save-key` or an endpoint from `.env` are never written or lost. The live session carries the
tools composed in at start-up: they are not `[session]` settings (functions are code, MCP header values are
secrets), so they are taken back out before the comparison. Push-to-talk is its own setting (TOML has no
null): turn detection "off" keeps the file's turn detection and writes `push_to_talk = true`. The write
blocks on the disk: it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from app.config import AudioSettings, Settings
from app.config_file import audio_changes, save_changes, session_changes
from app.protocol import changes
from app.protocol.session import SessionConfig
from app.tools.compose import settings_of
from app.tools.settings import InterimSettings


class SettingsSaver:
    def __init__(self, settings: Settings) -> None:
        self.path = settings.config_path
        self._session, self._audio = settings.loaded
        self._interim = settings.interim
        self._push_to_talk = settings.push_to_talk

    async def save(self, session: SessionConfig, audio: AudioSettings) -> Path:
        """Raises `app.files.WriteError` (one sentence) when the file cannot be written."""
        stored, interim = settings_of(session, configured=self._session, interim=self._interim)
        push_to_talk = stored.turn_detection is None
        if push_to_talk:
            stored = stored.model_copy(update={"turn_detection": self._session.turn_detection})
        found: dict[tuple[str, ...], Any] = {**session_changes(self._session, stored),
                                             **audio_changes(self._audio, audio),
                                             **_section_changes("interim", self._interim, interim)}
        if push_to_talk != self._push_to_talk:
            found["push_to_talk",] = push_to_talk
        path = await asyncio.to_thread(save_changes, self.path, found)
        self._session, self._audio, self._interim, self._push_to_talk = stored, audio, interim, push_to_talk
        return path


def _section_changes(section: str, before: InterimSettings, after: InterimSettings) -> dict[tuple[str, ...], Any]:
    return {(section, *path): value for path, value in changes.diff(before, after).items()}
