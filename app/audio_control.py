"""The audio devices' life: open, watch, reopen, close — never on the UI loop, never two at once.

PortAudio's open, close and abort block (a vanished device can hold them for a long while), so they run
on the engine's own device worker thread (`engine.open` / `engine.close`, awaited here without blocking
the UI loop), one at a time: PortAudio is not to be entered from two threads at once. The
controller attaches the engine to the session once it runs, detaches it when it dies, and reports every
change in one sentence (`report(reason, notes)`; `reason` None means audio works).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from app.audio.devices import AudioUnavailable
from app.audio.engine import AudioEngine
from app.audio.local_speech import LocalSpeech
from app.config import AudioSettings

log = logging.getLogger(__name__)
Report = Callable[[str | None, list[str]], None]
TEXT_MODE = "Audio is off: running in text mode (press t to type)."


class AudioController:
    """Owns the engine's lifecycle and the live audio settings (jitter, echo gate, devices)."""

    def __init__(self, engine: AudioEngine | None, settings: AudioSettings, *, report: Report,
                 capture_loop: asyncio.AbstractEventLoop, sink: Callable[[bytes], None],
                 speech_sink: Callable[[LocalSpeech], None] | None = None,
                 attach: Callable[[AudioEngine], None], detach: Callable[[], None],
                 unavailable: str | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self._capture_loop = capture_loop
        self._sink = sink
        self._speech_sink = speech_sink
        self._report = report
        self._attach = attach
        self._detach = detach
        self._unavailable = unavailable or TEXT_MODE
        self._lock = asyncio.Lock()
        self.running = False
        self._silence_reported = False

    async def open(self) -> None:
        """Open the devices (again); on failure the conversation goes on in text mode, and says why."""
        engine = self.engine
        if engine is None:
            self._report(self._unavailable, [])
            return
        async with self._lock:
            if self.running:
                await self._stop_locked()
            try:
                await engine.open(self._capture_loop, self._sink, self._speech_sink)
            except AudioUnavailable as exc:
                self._report(str(exc), [])
                return
            self.running = True
            self._silence_reported = False
            self._attach(engine)
        self._report(None, list(engine.notes))

    async def check(self) -> None:
        """Polled: a device that died mid-session, or a microphone that only delivers digital zeros."""
        engine = self.engine
        if engine is None or not self.running:
            return
        if engine.failure:
            failure = engine.failure
            async with self._lock:
                await self._stop_locked()
            self._report(f"{failure} Running in text mode; press a to reopen the devices.", [])
        elif engine.silence.tripped and not self._silence_reported:
            self._silence_reported = True
            self._report(None, ["The microphone is delivering pure digital silence: check permissions or the "
                                "mute switch."])

    async def close(self) -> None:
        async with self._lock:
            if self.running:
                await self._stop_locked()

    async def _stop_locked(self) -> None:
        self._detach()
        self.running = False
        if self.engine is not None:
            self.engine.silence.tripped = False
            await self.engine.close()

    async def apply(self, audio: AudioSettings) -> None:
        """Apply new audio settings live; the devices are reopened only when they changed."""
        previous, self.settings = self.settings, audio
        engine = self.engine
        if engine is None:
            return
        engine.playback.set_jitter_ms(audio.jitter_ms)
        engine.echo_gate = audio.echo_gate
        engine.barge_in_mode = audio.barge_in
        engine.ducker.window_s = audio.duck_window_ms / 1000
        if (audio.input_device, audio.output_device) != (previous.input_device, previous.output_device):
            engine.input_device, engine.output_device = audio.input_device, audio.output_device
            await self.open()
