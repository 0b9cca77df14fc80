"""A VoiceLiveSession connected to an emulator, with a software speaker, for tests without a UI."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from app.audio import BLOCK_FRAMES
from app.audio.playback import PlaybackBuffer
from app.emulator.server import EmulatorServer
from app.protocol.endpoint import realtime_url
from app.protocol.session import SessionConfig
from app.voicelive import notices as nt
from app.voicelive.auth import CredentialProvider
from app.voicelive.session import VoiceLiveSession
from tests.helpers import SoftwareSpeaker, wait_for

N = TypeVar("N", bound=nt.Notice)


@dataclass
class SoftwareDevice:
    """What the session attaches as audio: a playback buffer (drained by a software speaker) and a mute."""

    playback: PlaybackBuffer
    muted: bool = False
    barge_in_mode: str = "service"


class SessionHarness:
    def __init__(self, server: EmulatorServer, *, api_key: str | None = None, config: SessionConfig | None = None,
                 jitter_ms: int = 40) -> None:
        self.server = server
        self.notices: list[nt.Notice] = []
        self.playback = PlaybackBuffer(jitter_ms=jitter_ms)
        self.speaker = SoftwareSpeaker(self.playback)
        self.url = realtime_url(server.endpoint, api_version="2026-07-15", model="gpt-4o")
        self.credentials = CredentialProvider(api_key=api_key or server.api_key)
        self.session = VoiceLiveSession(config or SessionConfig(), self.notices.append, api_version="2026-07-15")
        self.device = SoftwareDevice(self.playback)
        self.session.attach_audio(self.device)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SessionHarness:
        self._task = asyncio.create_task(self.session.run(self.url, self.credentials))
        self.speaker.start()
        await wait_for(lambda: self.session.config.confirmed is not None or self.failed(), timeout=10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()
        await self.speaker.stop()
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout=5)

    def of(self, kind: type[N]) -> list[N]:
        return [n for n in self.notices if isinstance(n, kind)]

    def failed(self) -> list[nt.ConnectionChanged]:
        return [n for n in self.of(nt.ConnectionChanged) if n.state == "failed"]

    @property
    def emulated(self) -> Any:
        return self.server.sessions[-1]

    async def stream(self, pcm: npt.NDArray[np.int16], *, realtime: bool = False) -> None:
        """Send audio as 20 ms blocks, in real time or as fast as the loop allows."""
        for start in range(0, len(pcm), BLOCK_FRAMES):
            self.session.submit_audio(pcm[start : start + BLOCK_FRAMES].tobytes())
            await asyncio.sleep(0.02 if realtime else 0)
