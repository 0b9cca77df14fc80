"""Real-audio harness for the engine without a session or an App: time-stamped recordings of the virtual
devices, a speaker-to-microphone leak, and an engine fed by the test the way the session feeds it.

`TimedRecorder` records a PulseAudio source through `parec --raw` into a pipe that a thread drains, and
stamps each read with `time.monotonic()`. A sample cannot arrive before the sink rendered it, and reads
arrive every ~2 ms, so a straight line fitted under the arrival times (sample index → time) says when
each sample was at the speaker to within a few ms — an observation independent of PortAudio's clocks.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.audio import SAMPLE_RATE
from app.audio.engine import AudioEngine
from app.audio.local_speech import LocalSpeech
from app.audio.wav import write_wav


@dataclass
class Recording:
    samples: npt.NDArray[np.int16]
    slope: float  # seconds per sample
    origin: float  # monotonic time of sample 0

    def time_of(self, index: float) -> float:
        return self.origin + self.slope * index

    def index_at(self, t: float) -> int:
        return round((t - self.origin) / self.slope)


class TimedRecorder:
    """`parec --raw` from a source (default: what the speaker plays), time-stamped on arrival."""

    def __init__(self, device: str = "vspeaker.monitor") -> None:
        self._proc = subprocess.Popen(
            ["parec", "-d", device, "--raw", "--rate=24000", "--channels=1", "--format=s16le", "--latency-msec=2"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0, env={**os.environ})
        self._chunks: list[tuple[float, bytes]] = []
        self._thread = threading.Thread(target=self._drain, name="timed-recorder", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while chunk := os.read(fd, 1 << 16):
            self._chunks.append((time.monotonic(), chunk))

    async def wait_started(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self._chunks) < 20:
            if time.monotonic() > deadline:
                raise AssertionError("parec delivered nothing")
            await asyncio.sleep(0.01)

    def stop(self) -> Recording:
        self._proc.terminate()
        self._proc.wait(timeout=5)
        self._thread.join(timeout=5)
        data = b"".join(chunk for _, chunk in self._chunks)
        samples = np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").copy()
        ends = np.cumsum([len(chunk) // 2 for _, chunk in self._chunks]).astype(np.float64)
        arrivals = np.array([t for t, _ in self._chunks])
        slope, intercept = np.polyfit(ends[10:], arrivals[10:], 1)
        residual = arrivals[10:] - (slope * ends[10:] + intercept)
        return Recording(samples, float(slope), float(intercept + np.percentile(residual, 1)))


@contextmanager
def speaker_leak(attenuation_db: float, latency_ms: int = 30) -> Iterator[None]:
    """What the speaker plays leaks into the microphone, `attenuation_db` down (a laptop on speakers)."""
    module = subprocess.run(["pactl", "load-module", "module-loopback", "source=vspeaker.monitor",
                             "sink=vmicsink", f"latency_msec={latency_ms}", "source_dont_move=true",
                             "sink_dont_move=true"], capture_output=True, text=True, check=True).stdout.strip()
    try:
        volume = f"{10 ** (-attenuation_db / 20):.4f}"  # a linear factor (a percentage is on a cubic scale)
        listing = subprocess.run(["pactl", "list", "sink-inputs"], capture_output=True, text=True, check=True).stdout
        for entry in listing.split("Sink Input #")[1:]:
            if f"Owner Module: {module}\n" in entry:
                index = entry.split("\n", 1)[0].strip()
                subprocess.run(["pactl", "set-sink-input-volume", index, volume], check=True)
                break
        else:
            raise AssertionError("the loopback's sink input was not found")
        yield
    finally:
        subprocess.run(["pactl", "unload-module", module], check=False)


async def play_into_mic_at(samples: npt.NDArray[np.int16], path: Path) -> float:
    """Play `samples` into vmicsink (the engine's microphone); returns when paplay was started."""
    write_wav(path, samples)
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec("paplay", "-d", "vmicsink", str(path), env={**os.environ})
    assert await asyncio.wait_for(proc.wait(), timeout=60) == 0
    return started


def noise(seconds: float, level: float = 0.1, seed: int = 3) -> npt.NDArray[np.int16]:
    """A steady, never-zero signal: where it stops in a recording is exact to the sample."""
    rng = np.random.default_rng(seed)
    samples = (rng.standard_normal(int(seconds * SAMPLE_RATE)) * level * 32767).clip(-32000, 32000).astype(np.int16)
    samples[samples == 0] = 1
    return samples


def heard_prefix(reply: npt.NDArray[np.int16], recording: npt.NDArray[np.int16], lag: int,
                 until: int | None = None) -> tuple[int, int]:
    """How far into a never-zero `reply` the recording got (from `lag`, before `until`): the reply index
    after the last sample heard, and the recording index of that sample.

    Found by where the recording's last 32 reply samples sit in the reply, so an underrun's silence or a
    restart's lost millisecond before them does not shift the answer.
    """
    end = min(len(recording), until if until is not None else lag + len(reply) + SAMPLE_RATE)
    heard = np.flatnonzero(recording[lag:end])
    if heard.size == 0:
        return 0, lag
    last = lag + int(heard[-1])
    tail = recording[last - 31 : last + 1]
    at = locate(tail, reply)
    assert at >= 0, "the recording's last samples are not from the reply"
    return at + 32, last


def locate(reply: npt.NDArray[np.int16], recording: npt.NDArray[np.int16], start: int = 0, probe: int = 32) -> int:
    """Index of the first place at or after `start` where the recording holds the reply's first `probe`
    samples exactly (a noise reply through the bit-exact virtual devices); -1 if nowhere."""
    head = reply[:probe]
    for index in np.flatnonzero(recording[start:] == head[0]):
        at = start + int(index)
        if np.array_equal(recording[at : at + probe], head):
            return at
    return -1


@dataclass
class EngineRig:
    """An engine on the virtual devices, fed by the test as the session would feed it."""

    engine: AudioEngine
    mic: list[bytes] = field(default_factory=list)
    speech: list[LocalSpeech] = field(default_factory=list)

    async def __aenter__(self) -> EngineRig:
        await self.engine.open(asyncio.get_running_loop(), self.mic.append, self.speech.append)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.engine.close()

    async def play(self, item_id: str, pcm: npt.NDArray[np.int16], chunk_ms: int = 40) -> None:
        """Write a reply in chunks at about real time (a little ahead), like deltas from the network."""
        step = SAMPLE_RATE * chunk_ms // 1000
        start = time.monotonic()
        for i in range(0, len(pcm), step):
            self.engine.playback.write(item_id, pcm[i : i + step])
            await asyncio.sleep(max(0.0, start + (i + step) / SAMPLE_RATE - 0.1 - time.monotonic()))
        self.engine.playback.end_item(item_id)


def exact_prefix(reply: npt.NDArray[np.int16], recording: npt.NDArray[np.int16], lag: int) -> int:
    """How many leading samples of the reply the recording holds from `lag`, unchanged and without a gap."""
    window = recording[lag : lag + len(reply)]
    differ = np.flatnonzero(window != reply[: len(window)])
    return int(differ[0]) if differ.size else len(window)


def continuation(reply: npt.NDArray[np.int16], recording: npt.NDArray[np.int16], at: int, near: int,
                 search: int = 2400, length: int = 480) -> int:
    """Which reply sample the recording plays at index `at` (at any gain), looked for around reply index `near`."""
    piece = recording[at : at + length].astype(np.float64)
    best, best_score = near, -1.0
    for j in range(max(0, near - search), min(len(reply) - length, near + search)):
        ref = reply[j : j + length].astype(np.float64)
        denominator = float(np.sqrt(np.dot(ref, ref) * np.dot(piece, piece)))
        score = float(np.dot(ref, piece)) / denominator if denominator else 0.0
        if score > best_score:
            best, best_score = j, score
    return best


def levels_db(samples: npt.NDArray[np.int16], window: int = 120) -> npt.NDArray[np.float64]:
    """dBFS of consecutive `window`-sample windows (5 ms)."""
    x = samples[: len(samples) // window * window].astype(np.float64).reshape(-1, window)
    return np.asarray(10 * np.log10(np.mean(x * x, axis=1) / 32768.0**2 + 1e-12), dtype=np.float64)


MIN_GAP_SAMPLES = SAMPLE_RATE // 1000  # 1 ms of exact zeros: noise at -20 dBFS never holds 0 that long


def gap_spans(samples: npt.NDArray[np.int16]) -> list[tuple[int, int]]:
    """(first, end) sample indices of the runs of exact zeros between the first and the last non-zero sample."""
    loud = np.flatnonzero(samples)
    if len(loud) < 2:
        return []
    inner = samples[loud[0]: loud[-1] + 1] == 0
    edges = np.diff(np.concatenate([[0], inner.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(loud[0] + a), int(loud[0] + b)) for a, b in zip(starts, ends, strict=True) if b - a >= MIN_GAP_SAMPLES]


def gaps_in(samples: npt.NDArray[np.int16]) -> list[float]:
    """Lengths (ms) of the runs of exact zeros between the first and the last non-zero sample."""
    return [round(float(end - first) * 1000 / SAMPLE_RATE, 2) for first, end in gap_spans(samples)]
