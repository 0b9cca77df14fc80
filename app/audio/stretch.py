"""Playing a block one frame slower: how the playback buffer keeps up with a speaker whose clock runs fast.

A reply arrives at the service's pace (real time by the service's clock) and is played at the sound device's
pace (its own crystal). The two differ by tens to hundreds of parts per million: the virtual test sink here
plays 24007 frames for every 24000 of real time, +290 ppm, so over a 3-minute reply the device takes 50 ms
more than arrives, the jitter margin drains, and the reply underran once in its last minute (measured: the
deltas left the emulator and reached the buffer on time all along). Once a reply has played for 5 s (drift
needs minutes to matter, and a short reply then plays bit-exact) and the buffer holds less than its jitter
target, `fill` plays a 20 ms block from 19.96 ms of audio (480 frames from 479, linear interpolation): 0.2 %
slower, 3.6 cents of pitch for that block, which nobody hears, and a margin of 1 frame regained per block.
The first version waited for half the target, and the buffer stayed down there: a reply whose deltas strayed
63 ms from real time had a 47 ms gap 134 s in. At the full target the margin is kept: three 3-minute replies
since had no gap (their deltas strayed 63-85 ms; 900-2600 of their 9000 blocks were slowed). The cost is
some tens of ms more delay mid-reply, which nobody hears either.

Runs in the output callback: everything is preallocated, no allocation per call.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class BlockStretcher:
    """`frames` output frames from `frames - 1` input frames."""

    def __init__(self, frames: int) -> None:
        position = np.arange(frames, dtype=np.float64) * (frames - 2) / (frames - 1)  # 0 … frames-2
        self._left = np.floor(position).astype(np.intp)
        self._right = np.minimum(self._left + 1, frames - 2)
        self._weight = (position - self._left).astype(np.float32)
        self._source = np.zeros(frames - 1, dtype=np.float32)
        self._a = np.zeros(frames, dtype=np.float32)
        self._b = np.zeros(frames, dtype=np.float32)

    def stretch(self, source: npt.NDArray[np.int16], out: npt.NDArray[np.int16]) -> None:
        """`out` (`frames` long) from `source` (`frames - 1` long): the first and last frames are the same."""
        self._source[:] = source
        np.take(self._source, self._left, out=self._a)
        np.take(self._source, self._right, out=self._b)
        np.subtract(self._b, self._a, out=self._b)
        np.multiply(self._b, self._weight, out=self._b)
        np.add(self._a, self._b, out=self._a)
        np.rint(self._a, out=self._a)
        out[:] = self._a
