"""Saving what the user changed in the settings screen, into the file the settings came from.

Only the difference from the settings as they were loaded is written (through `save_changes`, which
keeps every other key and comment of the file), so one-off flags, a key saved with `--save-key` or an
endpoint from `.env` are never written or lost. The live session carries the tools composed in at
start-up: they are not `[session]` settings (functions are code, MCP header values are secrets), so they
are taken back out before the comparison. The write blocks on the disk: it runs in a worker thread.
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

    async def save(self, session: SessionConfig, audio: AudioSettings) -> Path:
        """Raises `app.files.WriteError` (one sentence) when the file cannot be written."""
        stored, interim = settings_of(session, configured=self._session, interim=self._interim)
        found: dict[tuple[str, ...], Any] = {**session_changes(self._session, stored),
                                             **audio_changes(self._audio, audio), **_interim_changes(self._interim,
                                                                                                    interim)}
        path = await asyncio.to_thread(save_changes, self.path, found)
        self._session, self._audio, self._interim = stored, audio, interim
        return path


def _interim_changes(before: InterimSettings, after: InterimSettings) -> dict[tuple[str, ...], Any]:
    return {("interim", *path): value for path, value in changes.diff(before, after).items()}
