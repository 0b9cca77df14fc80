"""Everything the session sends leaves through one ordered outbox with two lanes.

Control events (session.update, truncate, cancel, typed text) are never dropped and go first. Mic audio is
a bounded lane: if the network stalls, the oldest blocks are dropped and counted, so the capture callback
never blocks and memory never grows without bound.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Outbox:
    def __init__(self, max_audio_blocks: int = 50) -> None:
        self._control: deque[str] = deque()
        self._audio: deque[bytes] = deque(maxlen=max_audio_blocks)
        self._ready = asyncio.Event()
        self.dropped_audio_blocks = 0
        self.accepting_audio = True

    def put_control(self, frame: str) -> None:
        self._control.append(frame)
        self._ready.set()

    def put_audio(self, block: bytes) -> None:
        """Called on the loop (via call_soon_threadsafe from the capture callback)."""
        if not self.accepting_audio:
            return
        if len(self._audio) == self._audio.maxlen:
            self.dropped_audio_blocks += 1
        self._audio.append(block)
        self._ready.set()

    def clear_audio(self) -> None:
        self._audio.clear()

    async def wait(self) -> None:
        await self._ready.wait()

    def take(self) -> tuple[list[str], list[bytes]]:
        """Everything queued right now: control frames first, then audio blocks."""
        control = list(self._control)
        audio = list(self._audio)
        self._control.clear()
        self._audio.clear()
        self._ready.clear()
        return control, audio
