"""Opens the capture and playback streams (or files standing in for them) and runs their callbacks.

The callbacks obey the audio-thread rules: no logging, no awaiting, no Textual, no allocation beyond a
block, locks held only for a copy. Captured blocks leave through `loop.call_soon_threadsafe(sink, bytes)`;
levels and health are plain attributes that the UI polls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.audio import BLOCK_FRAMES, SAMPLE_RATE
from app.audio.devices import AudioUnavailable, load_sounddevice, resolve_device
from app.audio.file_io import PlayedRecorder, WavSource
from app.audio.levels import LevelProbe, SilenceWatch
from app.audio.playback import PlaybackBuffer
from app.audio.rate_adapter import BlockResampler
from app.audio.wav import WavError

log = logging.getLogger(__name__)

BlockSink = Callable[[bytes], None]


class AudioEngine:
    """Microphone in, speaker out, with levels, mute and an optional echo gate."""

    def __init__(
        self,
        *,
        input_device: str | None = None,
        output_device: str | None = None,
        jitter_ms: int = 80,
        echo_gate: bool = False,
        input_file: Path | None = None,
        output_file: Path | None = None,
    ) -> None:
        self.input_device = input_device
        self.output_device = output_device
        self.input_file = input_file
        self.output_file = output_file
        self.playback = PlaybackBuffer(jitter_ms=jitter_ms)
        self.input_level = LevelProbe()
        self.output_level = LevelProbe()
        self.silence = SilenceWatch()
        self.muted = False
        self.echo_gate = echo_gate
        self.gated_blocks = 0
        self.input_overflows = 0
        self.output_underflows = 0
        self.failure: str | None = None  # set (from any thread) when a running stream dies
        self.notes: list[str] = []  # non-fatal facts worth telling the user (resampling, file input)
        self._streams: list[Any] = []
        self._source: WavSource | None = None
        self._recorder: PlayedRecorder | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sink: BlockSink | None = None
        self._in_adapter: BlockResampler | None = None
        self._out_adapter: BlockResampler | None = None
        self._in_block = np.zeros(BLOCK_FRAMES, dtype=np.int16)
        self._out_block = np.zeros(BLOCK_FRAMES, dtype=np.int16)
        self._stopping = False

    @property
    def active(self) -> bool:
        return bool(self._streams) or self._source is not None

    def start(self, loop: asyncio.AbstractEventLoop, sink: BlockSink) -> None:
        """Open everything; raises AudioUnavailable (one sentence) if audio cannot run at all."""
        self.stop()
        self._loop, self._sink = loop, sink
        self.failure, self.notes, self._stopping = None, [], False
        if self.input_file is not None:
            try:
                self._source = WavSource(self.input_file, self._on_file_block)
            except WavError as exc:
                raise AudioUnavailable(str(exc)) from None
            self.notes.append(f"The microphone is the file {self.input_file.name}, played in real time.")
        sd = load_sounddevice()
        try:
            out_dev = resolve_device(self.output_device, "output")
            self._open(sd, "output", out_dev)
            if self._source is None:
                self._open(sd, "input", resolve_device(self.input_device, "input"))
        except AudioUnavailable:
            self.stop()
            raise
        except Exception as exc:
            self.stop()
            raise AudioUnavailable(f"The audio device could not be opened ({exc}); running in text mode.") from None
        if self.output_file is not None:
            self._recorder = PlayedRecorder(self.output_file)
        for stream in self._streams:
            stream.start()
        if self._source is not None:
            self._source.start()

    def _open(self, sd: Any, kind: str, device: int | None) -> None:
        """Open at 24 kHz; if the device refuses, at its native rate with block resampling."""
        is_input = kind == "input"
        factory = sd.InputStream if is_input else sd.OutputStream
        callback = self._on_input if is_input else self._on_output
        common: dict[str, Any] = {"channels": 1, "dtype": "int16", "device": device,
                                  "finished_callback": lambda: self._on_finished(kind)}
        try:
            stream = factory(samplerate=SAMPLE_RATE, blocksize=BLOCK_FRAMES, callback=callback, **common)
        except sd.PortAudioError as exc:
            info = sd.query_devices(device, kind)
            native = int(info["default_samplerate"])
            if native == SAMPLE_RATE or native % 50:
                reason = f"The {kind} device could not be opened ({exc}); running in text mode."
                raise AudioUnavailable(reason) from None
            frames = native // 50
            adapter = BlockResampler(frames, BLOCK_FRAMES) if is_input else BlockResampler(BLOCK_FRAMES, frames)
            if is_input:
                self._in_adapter = adapter
            else:
                self._out_adapter = adapter
            stream = factory(samplerate=native, blocksize=frames, callback=callback, **common)
            self.notes.append(f"The {kind} device runs at {native} Hz; audio is resampled (linear).")
        self._streams.append(stream)
        log.info("%s stream open: device %s, %.0f Hz, latency %.0f ms", kind,
                 device if device is not None else "default", stream.samplerate, stream.latency * 1000)

    def stop(self) -> None:
        self._stopping = True
        if self._streams:  # the counters the callbacks kept, said once, off the audio thread
            log.info("audio stopped: %d output underruns (%d in the jitter buffer), %d input overflows, "
                     "%d mic blocks gated, output delay %.0f ms", self.output_underflows, self.playback.underruns,
                     self.input_overflows, self.gated_blocks, self.playback.output_delay_s * 1000)
        if self._source is not None:
            self._source.stop()
            self._source = None
        streams, self._streams = self._streams, []
        for stream in streams:
            try:
                stream.abort()
                stream.close()
            except Exception as exc:  # a vanished device must not stop the app from quitting
                log.warning("closing an audio stream failed: %s", exc)
        if self._recorder is not None:
            self._recorder.close()
            self._recorder = None
        self._in_adapter = self._out_adapter = None
        self.input_level.clear()
        self.output_level.clear()

    # ------------------------------------------------------------------ audio threads
    def _on_finished(self, kind: str) -> None:
        if not self._stopping:
            self.failure = f"The {kind} audio device stopped (unplugged or taken by another program)."

    def _on_file_block(self, block: npt.NDArray[np.int16]) -> None:
        self._capture(block)

    def _on_input(self, indata: npt.NDArray[np.int16], frames: int, time: Any, status: Any) -> None:
        if status.input_overflow:
            self.input_overflows += 1
        block = indata[:, 0]
        if self._in_adapter is not None:
            self._in_adapter.process(block, self._in_block)
            block = self._in_block
        self._capture(block)

    def _capture(self, block: npt.NDArray[np.int16]) -> None:
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

    def _on_output(self, outdata: npt.NDArray[np.int16], frames: int, time: Any, status: Any) -> None:
        if status.output_underflow:
            self.output_underflows += 1
        out = outdata[:, 0]
        if self._out_adapter is not None:
            real = self.playback.fill(self._out_block)
            self._out_adapter.process(self._out_block, out)
            played = self._out_block
        else:
            real = self.playback.fill(out)
            played = out
        self.playback.output_delay_s = max(0.0, time.outputBufferDacTime - time.currentTime)
        if real:
            self.output_level.update(played)
        elif self.output_level.rms:
            self.output_level.clear()  # silence: nothing to measure, 50 times a second
        if self._recorder is not None:
            self._recorder.push(played)
