"""Saving what the user changed in the settings screen, into the file the settings came from.

Only the difference from the settings as they were loaded is written (through `save_changes`, which
keeps every other key and comment of the file), so one-off flags, a key saved with `--save-key` or an
endpoint from `.env` are never written or lost. The write blocks on the disk: it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.config import AudioSettings, Settings
from app.config_file import audio_changes, save_changes, session_changes
from app.protocol.session import SessionConfig


class SettingsSaver:
    def __init__(self, settings: Settings) -> None:
        self.path = settings.config_path
        self._session, self._audio = settings.loaded

    async def save(self, session: SessionConfig, audio: AudioSettings) -> Path:
        """Raises `app.files.WriteError` (one sentence) when the file cannot be written."""
        changes = {**session_changes(self._session, session), **audio_changes(self._audio, audio)}
        path = await asyncio.to_thread(save_changes, self.path, changes)
        self._session, self._audio = session, audio
        return path
