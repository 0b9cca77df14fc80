"""Microphone in, speaker out: the audio callbacks, local speech detection and ducking, and the public API.

The callbacks obey the audio-thread rules: no logging, no awaiting, no Textual, no allocation beyond a
block, locks held only for a copy. Captured blocks leave through `loop.call_soon_threadsafe(sink, bytes)`,
local speech events through `loop.call_soon_threadsafe(speech_sink, LocalSpeech)`; levels, health and
`ducked` are plain attributes the UI polls.

Opening and closing devices blocks for tens of milliseconds, so it runs on the engine's own
`DeviceWorker` thread: `await engine.open(...)` / `await engine.close()` from any event loop never block
it; `start(...)` / `stop()` do the same synchronously for callers on other threads (or via
`asyncio.to_thread`). A flush (`playback.request_flush()`) and a duck also drop the output device's queue
on that thread, so what was already handed to PortAudio is not heard (see `streams.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from app.audio import BLOCK_FRAMES, SAMPLE_RATE
from app.audio.device_worker import DeviceWorker
from app.audio.devices import AudioUnavailable, load_sounddevice, resolve_device
from app.audio.ducking import DuckGain
from app.audio.file_io import PlayedRecorder, WavSource
from app.audio.levels import LevelProbe, SilenceWatch, rms_peak
from app.audio.local_speech import EchoReference, LocalSpeech, SpeechDetector
from app.audio.playback import PlaybackBuffer
from app.audio.priority import claim_realtime
from app.audio.streams import StreamPair, pin_cancellation_off
from app.audio.wav import WavError

log = logging.getLogger(__name__)

BlockSink = Callable[[bytes], None]
SpeechSink = Callable[[LocalSpeech], None]
BargeInMode = Literal["duck", "service", "local-cut"]
PLAYING_HOLD_S = 0.3  # a reply counts as playing this long after its last audio reached the speaker
START_DROP_S = 0.015  # queued silence worth dropping when a reply starts (a fresh stream holds less)
# The device queue only guards against the callback being starved: flushes, ducks and reply starts drop
# it, so they do not wait for it. None is PortAudio's default (40 ms on the virtual devices). Measured over
# 3-minute replies with a CPU burner and a GIL-bound thread, the machine at load 8-12: 40 ms underran
# 25-45 times, 80 ms 4-16 times; but a queue deeper than the jitter target drains the jitter buffer into
# the device when a reply starts (flaky gaps in the emulator test), so deeper queues want more jitter_ms.
OUTPUT_LATENCY_S: float | None = None
LEAD_IN_FRAMES = 120  # a (re)started stream may lose its first frames at the sink (<= 15 measured): 5 ms of silence


class AudioEngine:
    """Microphone in, speaker out, with levels, mute, an optional echo gate and local barge-in."""

    def __init__(self, *, input_device: str | None = None, output_device: str | None = None, jitter_ms: int = 80,
                 echo_gate: bool = False, input_file: Path | None = None, output_file: Path | None = None,
                 barge_in: BargeInMode = "duck", duck_window_s: float = 0.6,
                 output_latency: float | str | None = OUTPUT_LATENCY_S) -> None:
        self.input_device = input_device
        self.output_device = output_device
        self.input_file = input_file
        self.output_file = output_file
        self.output_latency = output_latency
        self.drop_silence_on_start = True  # a reply starts ~2 ms after its first frame, not after the device queue
        self.playback = PlaybackBuffer(jitter_ms=jitter_ms)
        self.input_level = LevelProbe()
        self.output_level = LevelProbe()
        self.silence = SilenceWatch()
        self.reference = EchoReference()
        self.detector = SpeechDetector(self.reference)
        self.detector.schedule = self._schedule_estimate
        self.ducker = DuckGain(window_s=duck_window_s)
        self.barge_in_mode: BargeInMode = barge_in
        self.muted = False
        self.echo_gate = echo_gate
        self.gated_blocks = 0
        self._gated = np.zeros(BLOCK_FRAMES, dtype=np.int16)  # the last block the echo gate held back
        self._gated_len = 0
        self.input_overflows = 0
        self.output_underflows = 0
        self.failure: str | None = None  # set (from any thread) when a running stream dies
        self.notes: list[str] = []  # non-fatal facts worth telling the user (resampling, file input)
        self._worker = DeviceWorker(realtime=True)
        self._out_scratch = np.zeros(BLOCK_FRAMES, dtype=np.float32)
        self._pair: StreamPair | None = None
        self._source: WavSource | None = None
        self._recorder: PlayedRecorder | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sink: BlockSink | None = None
        self._speech_sink: SpeechSink | None = None
        self._callback_abort: type[BaseException] = RuntimeError
        self._in_block = np.zeros(BLOCK_FRAMES, dtype=np.int16)
        self._out_block = np.zeros(BLOCK_FRAMES, dtype=np.int16)
        self._threads = {"output": 0, "input": 0}
        self.realtime = {"output": False, "input": False}  # the callback threads got real-time priority
        self._stopping = False
        self._restarting = False
        self._drop_pending = False  # a device-queue drop was asked for and not yet done
        self._replay_pending = False  # ... and what it drops should play again (ducking)
        self._callback_dropped_at: float | None = None  # the output callback aborted the stream itself
        self._output_done_at = 0.0  # when the last output callback returned (a drop waits for a running one)
        self._lead_in = 0  # frames of silence still to play first on a fresh output stream
        self._queue_frames = 0  # the output device's queue (its latency), in frames
        self._duck_heard = (0.0, 0.0)  # the last duck: speech onset at the microphone, the callback's decision
        self._duck_dropped: tuple[float, float, float] | None = None  # ... and its drop, to log (worker only)

    @property
    def active(self) -> bool:
        return self._pair is not None or self._source is not None

    @property
    def ducked(self) -> bool:
        """The reply is lowered because the user seems to be talking (the output meter shows it)."""
        return self.ducker.ducked

    # ------------------------------------------------------------------ lifecycle (any thread)
    async def open(self, loop: asyncio.AbstractEventLoop, sink: BlockSink,
                   speech_sink: SpeechSink | None = None) -> None:
        """Open the devices on the worker thread; raises AudioUnavailable (one sentence) if audio cannot run.

        `loop` is the loop that receives mic blocks (`sink`) and local speech events (`speech_sink`).
        """
        await self._worker.run(lambda: self._open(loop, sink, speech_sink))

    async def close(self) -> None:
        await self._worker.run(self._close)

    def start(self, loop: asyncio.AbstractEventLoop, sink: BlockSink, speech_sink: SpeechSink | None = None) -> None:
        """`open`, blocking the calling thread until done (do not call it on an event loop)."""
        self._worker.call(lambda: self._open(loop, sink, speech_sink))

    def stop(self) -> None:
        """`close`, blocking the calling thread until done (do not call it on an event loop)."""
        self._worker.call(self._close)

    # ------------------------------------------------------------------ lifecycle (worker thread)
    def _open(self, loop: asyncio.AbstractEventLoop, sink: BlockSink, speech_sink: SpeechSink | None) -> None:
        self._close()
        self._loop, self._sink, self._speech_sink = loop, sink, speech_sink
        self.failure, self.notes, self._stopping = None, [], False
        self._drop_pending = self._replay_pending = False
        self._callback_dropped_at = None
        self._threads = {"output": 0, "input": 0}
        if self.input_file is not None:
            try:
                self._source = WavSource(self.input_file, self._on_file_block)
            except WavError as exc:
                raise AudioUnavailable(str(exc)) from None
            self.notes.append(f"The microphone is the file {self.input_file.name}, played in real time.")
        sd = load_sounddevice()
        self._callback_abort = sd.CallbackAbort
        pair = StreamPair(self._on_output, self._on_input, self._on_finished)
        self._pair = pair
        try:
            out_dev = resolve_device(self.output_device, "output")
            in_dev = False if self._source is not None else resolve_device(self.input_device, "input")
            pair.open(sd, out_dev, in_dev, self.output_latency)
        except AudioUnavailable:
            self._close()
            raise
        except Exception as exc:
            self._close()
            raise AudioUnavailable(f"The audio device could not be opened ({exc}); running in text mode.") from None
        self.notes += pair.notes
        if self.output_file is not None:
            try:
                self._recorder = PlayedRecorder(self.output_file)
            except OSError as exc:
                self._close()
                reason = (exc.strerror or type(exc).__name__).lower()
                raise AudioUnavailable(f"The output file {self.output_file} cannot be written ({reason}); "
                                       "running in text mode.") from None
        self.playback.on_flush = self._flush_requested
        self.playback.device_flush = True
        self._queue_frames = round(float(pair.output.latency) * SAMPLE_RATE)
        pair.start()
        if self._source is not None:
            self._source.start()

    def _close(self) -> None:
        self._stopping = True
        self.playback.device_flush = False
        self.playback.on_flush = None
        if self._pair is not None:  # the counters the callbacks kept, said once, off the audio thread
            log.info("audio stopped: %d output underruns (%d in the jitter buffer; target now %d ms), %d input "
                     "overflows, %d mic blocks gated, %d device drops, %d ducks (%d restored), %d blocks played "
                     "1 frame slower for the device's clock; callbacks at %s priority", self.output_underflows,
                     self.playback.underruns, self.playback.target_ms, self.input_overflows, self.gated_blocks,
                     self.playback.device_drops, self.ducker.ducks, self.ducker.restores,
                     self.playback.stretched_blocks, "real-time" if any(self.realtime.values()) else "normal")
        if self._source is not None:
            self._source.stop()
            self._source = None
        pair, self._pair = self._pair, None
        if pair is not None:
            pair.close()
        if self._recorder is not None:
            self._recorder.close()
            self._recorder = None
        self.ducker.release()
        self.input_level.clear()
        self.output_level.clear()

    def _flush_requested(self) -> None:
        """A flush (from the session's loop): full volume for what comes next; drop the device's queue."""
        self._replay_pending = False
        self.ducker.release()
        self._request_drop()

    def _schedule_estimate(self, job: Callable[[], None]) -> None:
        """The detector's echo estimate runs on the worker thread, not in the input callback."""
        if self._pair is not None:
            self._worker.post(job)

    def _request_drop(self) -> None:
        if not self.playback.device_flush or self._drop_pending:
            return
        self._drop_pending = True
        self._worker.post(self._drop_output)

    def _drop_output(self) -> None:
        """On the worker: abort and restart the output stream. The output callback may have aborted it
        already (whichever thread gets the GIL first drops the queue); the earlier time counts."""
        pair = self._pair
        if pair is None or self._stopping:
            self._drop_pending = False
            return
        self._restarting = True
        try:
            pair.drop_output(self._dropped)
        except Exception as exc:
            self.failure = f"The output audio device stopped ({exc})."
        finally:
            self._restarting = False
        duck, self._duck_dropped = self._duck_dropped, None
        if duck is not None:  # said once the stream runs again: writing the log must not hold the restart
            onset, decided, dropped = duck
            log.info("duck: speech onset at %.3f; decided %.1f ms after it, the device queue dropped %.1f ms "
                     "after it", onset, (decided - onset) * 1000, (dropped - onset) * 1000)

    def _dropped(self, called_at: float) -> None:
        """The queue was dropped: when the abort was called, or when a callback it had to wait for ended,
        or when the callback aborted the stream itself, whichever is the real moment."""
        at = max(called_at, self._output_done_at)
        if self._callback_dropped_at is not None:
            at = min(at, self._callback_dropped_at)
        replay, self._replay_pending = self._replay_pending, False
        self._drop_pending = False
        self._callback_dropped_at = None
        self._threads["output"] = 0  # the restarted stream's thread may reuse the old thread's id
        self.playback.device_dropped(at, replay=replay and self.ducker.ducked)
        if replay:  # one log line per duck, to line up with a recording when a duck seems slow
            self._duck_dropped = (*self._duck_heard, at)

    # ------------------------------------------------------------------ audio threads
    def _on_finished(self, kind: str) -> None:
        expected = self._stopping or self._restarting or (kind == "output" and self._callback_dropped_at is not None)
        if not expected:
            self.failure = f"The {kind} audio device stopped (unplugged or taken by another program)."

    def _enter(self, kind: str, pair: StreamPair) -> None:
        """First thing in every callback: a new callback thread pins cancellation off; honour an abort."""
        ident = threading.get_ident()
        if self._threads[kind] != ident:
            self._threads[kind] = ident
            pair.fast_abort[kind] = pin_cancellation_off()
            self.realtime[kind] = claim_realtime()
            if kind == "output":
                self._lead_in = LEAD_IN_FRAMES
        if pair.abort_from_callback[kind]:
            raise self._callback_abort

    def _on_file_block(self, block: npt.NDArray[np.int16]) -> None:
        now = time.monotonic()
        self._capture(block, now - len(block) / SAMPLE_RATE, now)

    def _on_input(self, indata: npt.NDArray[np.int16], frames: int, time_info: Any, status: Any) -> None:
        now = time.monotonic()
        pair = self._pair
        if pair is None:
            return
        self._enter("input", pair)
        if status.input_overflow:
            self.input_overflows += 1
        block = indata[:, 0]
        if pair.in_adapter is not None:
            pair.in_adapter.process(block, self._in_block)
            block = self._in_block
        adc = float(time_info.inputBufferAdcTime)
        t_start = adc + (now - float(time_info.currentTime)) if adc > 0 else now - len(block) / SAMPLE_RATE
        self._capture(block, t_start, now)

    def _capture(self, block: npt.NDArray[np.int16], t_start: float, now: float) -> None:
        self.input_level.update(block)
        self.silence.update(self.input_level.peak, len(block))
        decision = self.detector.process(block, t_start)
        if decision is not None:
            self._local_speech(decision, now)
        # Each device block leaves as it is captured (10 ms on a native-rate device): gathering two into one
        # 20 ms frame held the first half back and turned any late callback into a 30-40 ms gap on the wire.
        if self.muted or self._loop is None or self._sink is None:
            return
        if (self.echo_gate and not self.detector.speaking and self.output_level.rms > 0.002
                and rms_peak(block)[0] < 2.0 * self.output_level.rms):
            self.gated_blocks += 1
            self._gated[: len(block)] = block  # held back: it may turn out to be the start of speech
            self._gated_len = len(block)
            return
        held, self._gated_len = self._gated_len, 0
        try:
            if held and self.detector.speaking:  # speech began in the block the gate held back: it goes first
                self._loop.call_soon_threadsafe(self._sink, self._gated[:held].tobytes())
            self._loop.call_soon_threadsafe(self._sink, block.tobytes())
        except RuntimeError:  # the loop is closing: we are quitting
            pass

    def _local_speech(self, kind: Literal["start", "stop"], now: float) -> None:
        during = now < self.reference.last_audio_at + PLAYING_HOLD_S
        if kind == "start" and during and self.barge_in_mode != "service" and not self.muted:
            self.ducker.duck(now)
            self._duck_heard = (self.detector.onset_at, now)  # one tuple: the worker reads both or neither
            self._replay_pending = True
            self._request_drop()
        at = self.detector.onset_at if kind == "start" else self.detector.last_voice_at
        event = LocalSpeech(kind, at, during, self.ducker.ducked)
        if self._loop is not None and self._speech_sink is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._speech_sink, event)

    def _on_output(self, outdata: npt.NDArray[np.int16], frames: int, time_info: Any, status: Any) -> None:
        now = time.monotonic()
        pair = self._pair
        if pair is None:
            outdata.fill(0)
            return
        try:
            self._enter("output", pair)
        except BaseException:
            outdata.fill(0)
            raise
        if self._drop_pending and self._callback_dropped_at is None:
            self._callback_dropped_at = now  # drop the device queue from here: sooner than the worker, often
            outdata.fill(0)
            raise self._callback_abort
        dac_pa = float(time_info.outputBufferDacTime)
        dac = dac_pa + (now - float(time_info.currentTime)) if dac_pa > 0 else None
        restart = (self.drop_silence_on_start and dac is not None and dac - now > START_DROP_S
                   and not self._drop_pending and self.playback.device_flush)
        # A reply that starts with a restart waits for what the restarted stream will take at once, too: its
        # queue must not come out of the jitter margin. Without a restart it waits for the target alone.
        start_frames = self._queue_frames if restart else 0
        if restart and self.playback.would_start(now, start_frames):
            # A reply starts while the device holds only silence: drop that silence so it starts now.
            self._drop_pending = True
            self._callback_dropped_at = now
            self._worker.post(self._drop_output)
            outdata.fill(0)
            raise self._callback_abort
        if status.output_underflow:
            self.output_underflows += 1
        out = outdata[:, 0]
        block = self._out_block if pair.out_adapter is not None else out
        lead, self._lead_in = self._lead_in, 0
        block[:lead] = 0
        real = self.playback.fill(block[lead:], None if dac is None else dac + lead / SAMPLE_RATE, start_frames)
        self.ducker.apply(block, now)
        if pair.out_adapter is not None:
            pair.out_adapter.process(block, out)
        if real:
            self.output_level.update(block)
        elif self.output_level.rms:
            self.output_level.clear()  # silence: nothing to measure, 50 times a second
        self.reference.played(block, dac if dac is not None else now, self._out_scratch, audio=real > 0)
        if self._recorder is not None:
            self._recorder.push(block)
        self._output_done_at = time.monotonic()

