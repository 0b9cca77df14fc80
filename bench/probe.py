"""Small processes the benchmarks run beside the client, each doing one thing on the system's clocks.

    python -m bench.probe play WAV        # play on the default output (choose it with PULSE_SINK)
    python -m bench.probe streams SECONDS # only the two PortAudio streams the app runs, empty callbacks
    python -m bench.probe minimal         # a minimal Textual app (one label), for start-up comparisons

`play` prints the monotonic time at which the file's first loud sample was handed to PortAudio (the
callback carrying it, plus its offset in the block), so the burst of callbacks that fills the stream's
buffers at start-up does not skew it. Files should start with ~0.5 s of silence for that reason.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from app.audio import BLOCK_FRAMES, SAMPLE_RATE
from app.audio.wav import read_wav

LOUD = 300  # |sample| above this is "sound" (the virtual devices are bit-exact: silence is 0)
MINIMAL_READY = "minimal-textual-ready"


def probe_env(**pulse: str) -> dict[str, str]:
    return {**os.environ, **pulse}


def play(path: Path) -> None:
    import sounddevice as sd

    samples = read_wav(path)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > LOUD)
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
    if started:
        print(f"STARTED {started[0]:.6f}", flush=True)


def streams(seconds: float) -> None:
    """The audio stack's own cost (PortAudio, the ALSA→PulseAudio plugin threads): no client goes below it."""
    import sounddevice as sd

    def out(outdata: np.ndarray, frames: int, t: Any, status: Any) -> None:
        outdata.fill(0)

    def inp(indata: np.ndarray, frames: int, t: Any, status: Any) -> None:
        pass

    with sd.OutputStream(samplerate=SAMPLE_RATE, blocksize=BLOCK_FRAMES, channels=1, dtype="int16", callback=out), \
            sd.InputStream(samplerate=SAMPLE_RATE, blocksize=BLOCK_FRAMES // 2, channels=1, dtype="int16",
                           callback=inp, latency="low"):
        print("STREAMING", flush=True)
        time.sleep(seconds)


def minimal() -> None:
    from textual.app import App, ComposeResult
    from textual.widgets import Label

    class Minimal(App[None]):
        def compose(self) -> ComposeResult:
            yield Label(MINIMAL_READY)

    Minimal().run()


if __name__ == "__main__":
    if sys.argv[1] == "play":
        play(Path(sys.argv[2]))
    elif sys.argv[1] == "streams":
        streams(float(sys.argv[2]))
    else:
        minimal()
