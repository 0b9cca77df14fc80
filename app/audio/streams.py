"""The PortAudio streams of one engine run: open (with a resampling fallback), start, drop, close.

Every method here runs on the engine's `DeviceWorker` thread, never on an event loop or in a callback.

Dropping the output queue is `abort()` then `start()`: on Linux PortAudio's ALSA host API cancels its
callback thread (`pthread_cancel`) and drops the PCM (`snd_pcm_drop`), and the ALSA→PulseAudio plugin
flushes the server's buffer too (measured: the speaker is silent within ~1 ms of the abort, and resumes
1–3 ms after the restart). Cancelling a thread that is inside Python would be fatal (a GIL wait is a
cancellation point), so each new callback thread first makes sure cancellation is off while it runs
Python (`pin_cancellation_off`): PortAudio 19.6 already turns it off around the callback, and then the
abort lands in PortAudio's own poll and is immediate. If a build does not, the thread keeps it off for
good, and aborts go through the callback instead (`abort_from_callback`: up to one block later).
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from app.audio import BLOCK_FRAMES, SAMPLE_RATE
from app.audio.devices import AudioUnavailable
from app.audio.rate_adapter import BlockResampler

log = logging.getLogger(__name__)

_PTHREAD_CANCEL_DISABLE = 1  # glibc's value; only used on Linux
_libc: Any = ctypes.CDLL(None) if sys.platform.startswith("linux") else None


def pin_cancellation_off() -> bool:
    """Called once in each new callback thread. True if the thread already ran the callback with
    cancellation disabled (so aborting it from another thread is safe and immediate)."""
    if _libc is None:
        return True  # other host APIs do not cancel their callback threads
    old = ctypes.c_int(0)
    _libc.pthread_setcancelstate(_PTHREAD_CANCEL_DISABLE, ctypes.byref(old))
    return old.value == _PTHREAD_CANCEL_DISABLE


class StreamPair:
    """The output stream and (unless a file stands in for the microphone) the input stream."""

    def __init__(self, on_output: Callable[..., None], on_input: Callable[..., None],
                 on_finished: Callable[[str], None]) -> None:
        self._on_output = on_output
        self._on_input = on_input
        self._on_finished = on_finished
        self.output: Any = None
        self.input: Any = None
        self.in_adapter: BlockResampler | None = None
        self.out_adapter: BlockResampler | None = None
        self.notes: list[str] = []
        self.abort_from_callback = {"output": False, "input": False}  # read by the callbacks
        self.fast_abort = {"output": True, "input": True}  # written by the callbacks (pin_cancellation_off)
        self.finished = {"output": threading.Event(), "input": threading.Event()}

    def open(self, sd: Any, output_device: int | None, input_device: int | bool | None,
             output_latency: float | str | None) -> None:
        """Open the output, and the input unless `input_device` is False; raises AudioUnavailable."""
        self.output = self._open(sd, "output", output_device, output_latency)
        if input_device is not False:  # low latency: blocks on time (PortAudio's 'high' delivers them in bursts)
            self.input = self._open(sd, "input", input_device, "low")

    def _open(self, sd: Any, kind: str, device: int | bool | None, latency: float | str | None) -> Any:
        """Open at 24 kHz; if the device refuses, at its native rate with block resampling."""
        is_input = kind == "input"
        factory = sd.InputStream if is_input else sd.OutputStream
        callback = self._on_input if is_input else self._on_output
        common: dict[str, Any] = {"channels": 1, "dtype": "int16", "device": device,
                                  "finished_callback": lambda: self._finished(kind)}
        if latency is not None:
            common["latency"] = latency
        try:  # the microphone in 10 ms blocks: speech is noticed sooner; each block goes on the wire as it comes
            blocksize = BLOCK_FRAMES // 2 if is_input else BLOCK_FRAMES
            stream = factory(samplerate=SAMPLE_RATE, blocksize=blocksize, callback=callback, **common)
        except sd.PortAudioError as exc:
            info = sd.query_devices(device, kind)
            native = int(info["default_samplerate"])
            if native == SAMPLE_RATE or native % 50:
                reason = f"The {kind} device could not be opened ({exc}); running in text mode."
                raise AudioUnavailable(reason) from None
            frames = native // 50
            if is_input:
                self.in_adapter = BlockResampler(frames, BLOCK_FRAMES)
            else:
                self.out_adapter = BlockResampler(BLOCK_FRAMES, frames)
            stream = factory(samplerate=native, blocksize=frames, callback=callback, **common)
            self.notes.append(f"The {kind} device runs at {native} Hz; audio is resampled (linear).")
        log.info("%s stream open: device %s, %.0f Hz, latency %.0f ms", kind,
                 device if device is not None else "default", stream.samplerate, stream.latency * 1000)
        return stream

    def _finished(self, kind: str) -> None:
        self.finished[kind].set()
        self._on_finished(kind)

    def start(self) -> None:
        for kind, stream in (("output", self.output), ("input", self.input)):
            if stream is not None:
                self.finished[kind].clear()
                stream.start()

    def _abort(self, kind: str, stream: Any) -> bool:
        """Stop a stream at once, dropping its queue; False if its callback thread did not end."""
        if not self.fast_abort[kind] and stream.active:
            self.abort_from_callback[kind] = True
            if not self.finished[kind].wait(0.5):
                return False  # a wedged device: leave the stream rather than hang this thread
        stream.abort()
        self.abort_from_callback[kind] = False
        return True

    def drop_output(self, dropped: Callable[[float], None]) -> None:
        """Drop what the output device has queued and restart it; `dropped(t)` runs between the two with the
        time the abort was called (the drop follows within ~1 ms; the return can be much later, when this
        thread waits for the GIL again)."""
        stream = self.output
        if stream is None:
            return
        called_at = time.monotonic()
        if not self._abort("output", stream):
            raise AudioUnavailable("The output audio device stopped responding.")
        dropped(called_at)
        self.finished["output"].clear()
        stream.start()

    def close(self) -> None:
        streams = (("output", self.output), ("input", self.input))
        self.output = self.input = None
        for kind, stream in streams:
            if stream is None:
                continue
            try:
                if self._abort(kind, stream):
                    stream.close()
            except Exception as exc:  # a vanished device must not stop the app from quitting
                log.warning("closing an audio stream failed: %s", exc)
