"""Signal levels, and the one mapping between the VAD threshold and a level that everyone shares.

The service's `threshold` is a speech probability; the emulator approximates it with an energy gate, and
the level meter draws the same gate, so what a user sees on the meter is what the emulator will do.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from app.audio import SAMPLE_RATE

FLOOR_DBFS = -60.0
_FULL_SCALE = 32768.0


def rms_peak(block: npt.NDArray[np.int16]) -> tuple[float, float]:
    """RMS and peak of an int16 block, as fractions of full scale (0..1)."""
    if block.size == 0:
        return 0.0, 0.0
    samples = block.astype(np.float32)
    rms = float(np.sqrt(np.dot(samples, samples) / samples.size)) / _FULL_SCALE
    peak = max(float(samples.max()), -float(samples.min())) / _FULL_SCALE
    return rms, peak


def to_dbfs(level: float) -> float:
    """A 0..1 level in dBFS, clamped to the meter's floor."""
    if level <= 0.0:
        return FLOOR_DBFS
    return max(FLOOR_DBFS, 20.0 * math.log10(level))


def threshold_to_dbfs(threshold: float) -> float:
    """The energy gate (dBFS RMS) the emulator uses for a VAD threshold: 0 → -60 dB, 0.3 → -45, 1 → -10."""
    return FLOOR_DBFS + 50.0 * min(max(threshold, 0.0), 1.0)


def meter_fraction(level: float) -> float:
    """Where a 0..1 level sits on a meter spanning FLOOR_DBFS..0 dBFS."""
    return (to_dbfs(level) - FLOOR_DBFS) / -FLOOR_DBFS


class LevelProbe:
    """Latest RMS/peak written by an audio callback and polled by the UI.

    Plain float attributes: a reader may see one block's RMS with the next block's peak, which a meter
    cannot show anyway, and no lock is ever taken on the audio thread.
    """

    def __init__(self) -> None:
        self.rms = 0.0
        self.peak = 0.0
        self.blocks = 0

    def update(self, block: npt.NDArray[np.int16]) -> None:
        self.rms, self.peak = rms_peak(block)
        self.blocks += 1

    def clear(self) -> None:
        self.rms = self.peak = 0.0


class SilenceWatch:
    """Notices a microphone that delivers pure digital zeros (permissions, a mute switch)."""

    def __init__(self, seconds: float = 3.0) -> None:
        self._limit = round(seconds * SAMPLE_RATE)
        self._zeros = 0  # frames of zeros in a row: counted in time, as blocks are 10 or 20 ms
        self.tripped = False

    def update(self, peak: float, frames: int) -> None:
        self._zeros = self._zeros + frames if peak == 0.0 else 0
        if self._zeros >= self._limit:
            self.tripped = True
