"""A separate process that plays or records on a virtual device and time-stamps it with the system's
monotonic clock (shared by every process), so latencies can be measured across processes.

    python -m bench.probe record SECONDS OUT.npz      # records the default input (choose it with PULSE_SOURCE)
    python -m bench.probe play WAV                    # plays on the default output (choose it with PULSE_SINK)

`record` saves the samples and, per callback block, the monotonic time its first sample was captured.
`play` prints the monotonic time at which the file's first loud sample was handed to PortAudio (the
callback carrying it, plus its offset in the block), so an early burst of callbacks filling the stream's
buffers at start-up does not skew the figure. Files should start with ~0.5 s of silence for that reason.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import numpy as np

from app.audio import BLOCK_FRAMES, SAMPLE_RATE
from app.audio.wav import read_wav


def record(seconds: float, out: Path) -> None:
    import sounddevice as sd

    blocks: list[np.ndarray] = []
    stamps: list[float] = []

    def callback(indata: np.ndarray, frames: int, t: object, status: object) -> None:
        stamps.append(time.monotonic() - frames / SAMPLE_RATE)
        blocks.append(indata[:, 0].copy())

    with sd.InputStream(samplerate=SAMPLE_RATE, blocksize=BLOCK_FRAMES, channels=1, dtype="int16",
                        callback=callback):
        print("READY", flush=True)
        time.sleep(seconds)
    np.savez(out, samples=np.concatenate(blocks), stamps=np.array(stamps), block=BLOCK_FRAMES)


def play(path: Path) -> None:
    import sounddevice as sd

    samples = read_wav(path)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 300)
    onset = int(loud[0]) if loud.size else 0
    position = 0
    started: list[float] = []
    done = threading.Event()

    def callback(outdata: np.ndarray, frames: int, t: object, status: object) -> None:
        nonlocal position
        chunk = samples[position : position + frames]
        outdata[: len(chunk), 0] = chunk
        outdata[len(chunk) :, 0] = 0
        if position <= onset < position + frames:
            started.append(time.monotonic() + (onset - position) / SAMPLE_RATE)
        position += frames
        if position >= len(samples) + SAMPLE_RATE // 5:
            done.set()

    with sd.OutputStream(samplerate=SAMPLE_RATE, blocksize=BLOCK_FRAMES, channels=1, dtype="int16",
                         callback=callback):
        done.wait(timeout=len(samples) / SAMPLE_RATE + 5)
    print(f"STARTED {started[0]:.6f}", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "record":
        record(float(sys.argv[2]), Path(sys.argv[3]))
    else:
        play(Path(sys.argv[2]))
