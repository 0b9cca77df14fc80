"""Building the real App for UI tests: the emulator over real websockets, no sound devices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.config import Settings, load_settings
from app.emulator.server import EmulatorOptions, EmulatorServer
from app.services import Services
from app.tui import VoiceLiveApp
from tests.helpers import wait_for


def make_app(tmp_path: Path, *, autostart: bool = True, flags: dict[tuple[str, ...], Any] | None = None,
             speed: float = 8.0) -> tuple[VoiceLiveApp, EmulatorServer]:
    settings: Settings = load_settings({("connection", "local"): True, **(flags or {})})
    emulator = EmulatorServer(options=EmulatorOptions(speed=speed, keep_closed_sessions=8))
    services = Services(emulator=emulator, audio_error="Audio is off in this test: text mode.",
                        autostart=autostart, transcript_dir=str(tmp_path / "transcripts"))
    return VoiceLiveApp(settings, services), emulator


async def connected(app: VoiceLiveApp) -> None:
    await wait_for(lambda: app.main.is_mounted and app.main.status.state == "connected", timeout=15)
    await wait_for(lambda: app.session.config.confirmed is not None and not app.main.status.pending,
                   timeout=5)  # the first session.update confirmed, and the screen has heard
