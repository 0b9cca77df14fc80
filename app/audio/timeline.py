"""Which frame of the playback ring the DAC is playing at a given moment.

The output callback hands blocks to PortAudio ~40 ms before they are heard. For every block it records
where the block's real audio came from in the ring (`ring_start`, `count`: a block is `count` frames of
ring audio, then silence) and when its first frame reaches the DAC (PortAudio's `outputBufferDacTime`,
converted to `time.monotonic()`). "What has the user heard by time t" is then a lookup: the last block
that started playing before t, plus how far into it t is. When the device's queue is dropped, the blocks
that never reached the DAC are struck out, so the answer stays what was actually played.

Preallocated arrays and plain integers only: `record` runs on the audio thread.
"""

from __future__ import annotations

import math

import numpy as np

from app.audio import SAMPLE_RATE

NO_TIMING = -math.inf  # a block without DAC timing (a file, a test speaker): counted as played when handed


class PlayedTimeline:
    """A ring of the last `size` output blocks: DAC start time, ring position and frames of real audio."""

    def __init__(self, size: int = 256) -> None:
        self._dac = np.full(size, math.nan, dtype=np.float64)  # nan: unused or struck out
        self._ring_start = np.zeros(size, dtype=np.int64)
        self._count = np.zeros(size, dtype=np.int64)
        self._next = 0  # index of the next record; the newest is _next - 1
        self._size = size

    def record(self, dac_time: float, ring_start: int, count: int) -> None:
        """One output block: its first frame plays at `dac_time`; its first `count` frames are ring audio."""
        i = self._next % self._size
        self._dac[i] = dac_time
        self._ring_start[i] = ring_start
        self._count[i] = count
        self._next += 1

    def position_at(self, t: float, default: int) -> int:
        """The ring position the DAC had reached at `t` (frames before it were heard); `default` if unknown.

        Searches from the newest block back: with ~40 ms of device latency the answer is two or three
        blocks back, so this is a handful of comparisons.
        """
        oldest = max(0, self._next - self._size)
        earliest: int | None = None
        for k in range(self._next - 1, oldest - 1, -1):
            i = k % self._size
            dac = float(self._dac[i])
            if math.isnan(dac):
                continue
            start = int(self._ring_start[i])
            if dac <= t:
                played = int(self._count[i]) if dac == NO_TIMING else min(int(self._count[i]),
                                                                          int((t - dac) * SAMPLE_RATE + 1e-6))
                return start + max(played, 0)
            earliest = start
        return earliest if earliest is not None else default

    def strike_after(self, t: float) -> None:
        """The device dropped everything not yet played at `t`: forget those frames."""
        oldest = max(0, self._next - self._size)
        for k in range(self._next - 1, oldest - 1, -1):
            i = k % self._size
            dac = float(self._dac[i])
            if math.isnan(dac) or dac == NO_TIMING:
                continue
            if dac > t:
                self._dac[i] = math.nan
            else:
                self._count[i] = min(int(self._count[i]), int((t - dac) * SAMPLE_RATE + 1e-6))
                break
