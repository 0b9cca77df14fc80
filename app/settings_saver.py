"""Saving the settings screen's values to the config file the settings came from, off the UI loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.config import AudioSettings, Settings, save_settings
from app.protocol.session import SessionConfig
from app.tools.compose import settings_of


class SettingsSaver:
    def __init__(self, settings: Settings, path: Path | None = None) -> None:
        self._settings = settings
        self._path = path

    async def save(self, session: SessionConfig, audio: AudioSettings) -> Path:
        """Write atomically in a worker thread (an fsync can take a while); raises OSError on failure.

        The live session carries the tools composed in at start-up; they are not settings of `[session]`
        (and MCP header values are secrets), so they are taken back out first."""
        stored, interim = settings_of(session, configured=self._settings.session, interim=self._settings.interim)
        self._settings = self._settings.model_copy(update={"session": stored, "audio": audio, "interim": interim})
        return await asyncio.to_thread(save_settings, self._settings, self._path)
