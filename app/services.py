"""What the App runs on, handed in by the CLI or a test: the audio engine, the emulator, a credential."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.audio.engine import AudioEngine
from app.voicelive.auth import TokenCredential


class Emulator(Protocol):
    """The local service: in-process (`EmulatorServer`, tests) or on its own thread (`EmulatorThread`)."""

    @property
    def port(self) -> int: ...
    @property
    def api_key(self) -> str: ...
    @property
    def endpoint(self) -> str: ...
    async def start(self) -> object: ...
    async def stop(self) -> None: ...


@dataclass
class Services:
    """What the App runs on; built by the CLI, or by a test."""

    engine: AudioEngine | None = None
    emulator: Emulator | None = None
    credential: TokenCredential | None = None
    audio_error: str | None = None  # why there is no engine, when there is none
    autostart: bool = True  # tests that drive the UI with synthetic notices switch the connection off
    transcript_dir: str | None = None
