"""Saving the settings screen's values to the config file the settings came from, off the UI loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.config import AudioSettings, Settings, save_settings
from app.protocol.session import SessionConfig


class SettingsSaver:
    def __init__(self, settings: Settings, path: Path | None = None) -> None:
        self._settings = settings
        self._path = path

    async def save(self, session: SessionConfig, audio: AudioSettings) -> Path:
        """Write atomically in a worker thread (an fsync can take a while); raises OSError on failure."""
        self._settings = self._settings.model_copy(update={"session": session, "audio": audio})
        return await asyncio.to_thread(save_settings, self._settings, self._path)
