"""Opens the capture and playback streams and runs their callbacks.

The callbacks obey the audio-thread rules: no logging, no awaiting, no Textual, no big allocations, locks
held only for a copy. Captured blocks leave through `loop.call_soon_threadsafe(sink, bytes)`; levels are
plain floats that the UI polls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from app.audio import BLOCK_FRAMES, SAMPLE_RATE
from app.audio.devices import AudioUnavailable, load_sounddevice, resolve_device
from app.audio.levels import LevelProbe, SilenceWatch
from app.audio.playback import PlaybackBuffer

log = logging.getLogger(__name__)

BlockSink = Callable[[bytes], None]


class AudioEngine:
    """Microphone in, speaker out, with levels and mute; owned by the App, shared with the session."""

    def __init__(
        self,
        *,
        input_device: str | None = None,
        output_device: str | None = None,
        jitter_ms: int = 80,
        echo_gate: bool = False,
    ) -> None:
        self.input_device = input_device
        self.output_device = output_device
        self.playback = PlaybackBuffer(jitter_ms=jitter_ms)
        self.input_level = LevelProbe()
        self.output_level = LevelProbe()
        self.silence = SilenceWatch()
        self.muted = False
        self.echo_gate = echo_gate
        self.gated_blocks = 0
        self.input_overflows = 0
        self.output_underflows = 0
        self._streams: list[Any] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sink: BlockSink | None = None

    @property
    def active(self) -> bool:
        return bool(self._streams)

    def start(self, loop: asyncio.AbstractEventLoop, sink: BlockSink) -> None:
        """Open both streams; raises AudioUnavailable (one sentence) if either cannot be opened."""
        self.stop()
        self._loop, self._sink = loop, sink
        sd = load_sounddevice()
        in_dev = resolve_device(self.input_device, "input")
        out_dev = resolve_device(self.output_device, "output")
        common: dict[str, Any] = {"samplerate": SAMPLE_RATE, "blocksize": BLOCK_FRAMES, "channels": 1, "dtype": "int16"}
        try:
            output = sd.OutputStream(device=out_dev, callback=self._on_output, **common)
            self._streams.append(output)
            capture = sd.InputStream(device=in_dev, callback=self._on_input, **common)
            self._streams.append(capture)
            output.start()
            capture.start()
        except Exception as exc:
            self.stop()
            raise AudioUnavailable(f"The audio device could not be opened ({exc}); running in text mode.") from None
        log.info("audio started: input %s, output %s, output latency %.0f ms",
                 in_dev if in_dev is not None else "default", out_dev if out_dev is not None else "default",
                 output.latency * 1000)

    def stop(self) -> None:
        streams, self._streams = self._streams, []
        for stream in streams:
            try:
                stream.abort()
                stream.close()
            except Exception as exc:  # a vanished device must not stop the app from quitting
                log.warning("closing an audio stream failed: %s", exc)
        self.input_level.clear()
        self.output_level.clear()

    # ------------------------------------------------------------------ audio thread
    def _on_input(self, indata: np.ndarray[Any, Any], frames: int, time: Any, status: Any) -> None:
        if status.input_overflow:
            self.input_overflows += 1
        block = indata[:, 0]
        self.input_level.update(block)
        self.silence.update(self.input_level.peak)
        if self.muted or self._loop is None or self._sink is None:
            return
        if self.echo_gate and self.output_level.rms > 0.002 and self.input_level.rms < 2.0 * self.output_level.rms:
            self.gated_blocks += 1
            return
        try:  # noqa: SIM105 - no context-manager object on the audio thread
            self._loop.call_soon_threadsafe(self._sink, block.tobytes())
        except RuntimeError:  # the loop is closing: we are quitting
            pass

    def _on_output(self, outdata: np.ndarray[Any, Any], frames: int, time: Any, status: Any) -> None:
        if status.output_underflow:
            self.output_underflows += 1
        out = outdata[:, 0]
        self.playback.fill(out)
        self.playback.output_delay_s = max(0.0, time.outputBufferDacTime - time.currentTime)
        self.output_level.update(out)
