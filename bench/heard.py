"""What a time-stamped recording says was heard, and when.

Recordings come from `tests.audio_harness.TimedRecorder` (`parec --raw`, stamped on arrival, a line fitted
under the arrivals: each sample's time at the sink to within a few ms). The virtual devices are bit-exact,
so a reply's first samples are found in the recording exactly; after a duck they are scaled, so its last
ones are found by normalised correlation, which any gain leaves at 1.0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.audio import SAMPLE_RATE
from app.audio.wav import read_wav, write_wav
from tests.audio_harness import Recording, levels_db

Samples = npt.NDArray[np.int16]
AUDIBLE = 8  # |sample| above this is audible (−72 dBFS); silence through the virtual devices is exactly 0
LOUD = 300  # speech or a marker has begun (−40 dBFS)
DUCK_WINDOW = 60  # 2.5 ms windows for levels


def find_exact(head: Samples, recording: Samples, start: int, end: int) -> int:
    """First index in recording[start:end] where `head` appears exactly; -1 if nowhere."""
    window = recording[max(0, start) : max(0, end) + len(head)]
    for offset in np.flatnonzero(window == head[0]):
        at = int(offset)
        if np.array_equal(window[at : at + len(head)], head):
            return max(0, start) + at
    return -1


def find_start(audio: Samples, recording: Samples, start: int, end: int) -> tuple[int, int]:
    """Where a reply starts playing in recording[start:end]: the index of its first heard sample and how many
    of its samples before that were never heard (a restarted stream can lose its first frames); (-1, 0)
    when none of its first 100 ms is there."""
    for skipped in range(0, SAMPLE_RATE // 10, SAMPLE_RATE // 1000):
        at = find_exact(audio[skipped : skipped + 32], recording, start, end)
        if at >= 0:
            return at, skipped
    return -1, 0


def first_over(recording: Samples, level: int, start: int, end: int) -> int:
    """First index in recording[start:end] with |sample| > level; -1 if none."""
    loud = np.flatnonzero(np.abs(recording[max(0, start) : max(0, end)].astype(np.int32)) > level)
    return max(0, start) + int(loud[0]) if loud.size else -1


def last_over(recording: Samples, level: int, start: int, end: int) -> int:
    """Last index in recording[start:end] with |sample| > level; -1 if none."""
    loud = np.flatnonzero(np.abs(recording[max(0, start) : max(0, end)].astype(np.int32)) > level)
    return max(0, start) + int(loud[-1]) if loud.size else -1


def reply_index_of(reply: Samples, recording: Samples, last: int, near: int, search: int = 4800,
                   length: int = 120) -> tuple[int, float]:
    """Which reply sample the recording plays at index `last` (at any gain), looked for within `search` of
    reply index `near`; and the normalised correlation there (1.0: the same samples)."""
    piece = recording[last - length + 1 : last + 1].astype(np.float64)
    lo, hi = max(length - 1, near - search), min(len(reply) - 1, near + search)
    if len(piece) < length or hi < lo:
        return -1, 0.0
    span = reply[lo - length + 1 : hi + 1].astype(np.float64)
    dots = np.correlate(span, piece, mode="valid")  # dots[k]: piece against reply[lo-length+1+k : ...+length]
    energy = np.convolve(span * span, np.ones(length), mode="valid")
    scores = dots / np.sqrt(np.maximum(energy * float(np.dot(piece, piece)), 1e-9))
    best = int(np.argmax(scores))
    return lo + best, float(scores[best])


def down_from(recording: Recording, onset_t: float, drop_db: float = 20.0, hold_s: float = 0.1,
              within_s: float = 0.4) -> float | None:
    """When the reply went `drop_db` below its level of the 200 ms before `onset_t` and stayed there for
    `hold_s` (a restart's brief silence does not count); seconds after `onset_t`, or None."""
    first = recording.index_at(onset_t - 0.2)
    span = recording.samples[first : recording.index_at(onset_t + within_s + hold_s) + DUCK_WINDOW]
    levels = levels_db(span, DUCK_WINDOW)
    per_s = SAMPLE_RATE / DUCK_WINDOW
    before = float(np.median(levels[: int(0.2 * per_s)]))
    if before < -60:
        return None  # nothing was playing
    quiet = levels <= before - drop_db
    hold = int(hold_s * per_s)
    for k in range(int(0.2 * per_s) - 2, int((0.2 + within_s) * per_s)):
        if k + hold <= len(quiet) and quiet[k : k + hold].all():
            return recording.time_of(first + k * DUCK_WINDOW) - onset_t
    return None


def espeak_or_speechlike(path: Path, text: str, lead_s: float = 0.5, tail_s: float = 0.5) -> Path:
    """A WAV of speech (espeak-ng when installed, else syllable-like bursts) with silence around it."""
    import shutil
    import subprocess

    raw = path.with_suffix(".raw.wav")
    samples: Samples
    if shutil.which("espeak-ng") and subprocess.run(["espeak-ng", "-w", str(raw), text], check=False,
                                                    capture_output=True).returncode == 0:
        samples = read_wav(raw)
    else:
        from tests.helpers import speechlike

        samples = speechlike(1.0)
    silence = np.zeros(int(lead_s * SAMPLE_RATE), np.int16)
    write_wav(path, np.concatenate([silence, samples, np.zeros(int(tail_s * SAMPLE_RATE), np.int16)]))
    return path
