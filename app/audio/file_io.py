"""Files standing in for devices: a WAV as the microphone, and a WAV of everything played.

`WavSource` paces blocks from its own thread at real time (absolute deadlines, so it does not drift),
like a sound card would. `PlayedRecorder` takes block copies from the output callback through a
lock-free queue and writes them from its own thread, so the callback never touches the disk.
"""

from __future__ import annotations

import queue
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.audio import BLOCK_FRAMES, SAMPLE_RATE
from app.audio.wav import read_wav


class WavSource:
    """Plays a WAV (any rate or channel count, converted) as 20 ms microphone blocks, then silence."""

    def __init__(
        self, path: Path, deliver: Callable[[npt.NDArray[np.int16]], None], *, loop_file: bool = False
    ) -> None:
        self.samples = read_wav(path)  # raises WavError with one sentence
        self.path = path
        self._deliver = deliver
        self._loop_file = loop_file
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wav-source", daemon=True)
        self.blocks_sent = 0
        self.finished = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1)

    def _run(self) -> None:
        silence = np.zeros(BLOCK_FRAMES, dtype=np.int16)
        position = 0
        deadline = time.monotonic()
        while not self._stop.is_set():
            if position < len(self.samples):
                block = np.zeros(BLOCK_FRAMES, dtype=np.int16)
                chunk = self.samples[position : position + BLOCK_FRAMES]
                block[: len(chunk)] = chunk
                position += BLOCK_FRAMES
            else:
                self.finished.set()
                if self._loop_file:
                    position = 0
                block = silence
            self._deliver(block)
            self.blocks_sent += 1
            deadline += BLOCK_FRAMES / SAMPLE_RATE
            self._stop.wait(max(0.0, deadline - time.monotonic()))


class PlayedRecorder:
    """Writes what the output callback played to a 24 kHz mono WAV."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._queue: queue.SimpleQueue[npt.NDArray[np.int16] | None] = queue.SimpleQueue()
        self._writer = wave.open(str(path), "wb")  # noqa: SIM115 - closed by the writer thread
        self._writer.setnchannels(1)
        self._writer.setsampwidth(2)
        self._writer.setframerate(SAMPLE_RATE)
        self._thread = threading.Thread(target=self._run, name="wav-recorder", daemon=True)
        self._thread.start()

    def push(self, block: npt.NDArray[np.int16]) -> None:
        """Called on the audio thread: one copy of the block, no I/O."""
        self._queue.put(block.copy())

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=2)

    def _run(self) -> None:
        try:
            while (block := self._queue.get()) is not None:
                self._writer.writeframes(block.astype("<i2").tobytes())
        finally:
            self._writer.close()
