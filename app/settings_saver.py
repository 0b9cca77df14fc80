"""Saving the settings screen's values to the config file the settings came from, off the UI loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.config import AudioSettings, Settings, save_settings
from app.presets import Preset
from app.protocol.session import SessionConfig


class SettingsSaver:
    def __init__(self, settings: Settings, path: Path | None = None) -> None:
        self._settings = settings
        self._path = path

    def remember_presets(self, presets: dict[str, Preset]) -> None:
        """Presets saved meanwhile (app.presets writes them): a later save must not drop them."""
        self._settings = self._settings.model_copy(update={"presets": presets})

    async def save(self, session: SessionConfig, audio: AudioSettings) -> Path:
        """Write atomically in a worker thread (an fsync can take a while); raises OSError on failure."""
        manual = session.turn_detection is None  # TOML has no null: push-to-talk is its own setting
        if manual:
            session = session.model_copy(update={"turn_detection": self._settings.session.turn_detection})
        self._settings = self._settings.model_copy(update={"session": session, "audio": audio,
                                                           "push_to_talk": manual})
        return await asyncio.to_thread(save_settings, self._settings, self._path)
