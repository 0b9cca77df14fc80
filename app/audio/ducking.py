"""The reply's volume while the user may be talking over it: lowered at once, restored smoothly.

The input callback calls `duck()` when it hears the user start speaking during a reply; the output
callback calls `apply()` on every block, which ramps the gain down in a few ms and, if no flush came
within `window_s` (a cough, a door), back up over `restore_ms` — no click, and the answer is not lost.
A flush (`release()`) ends the duck at once: what follows is a new reply.

Plain attributes only, written from the two audio callbacks and read by the UI (`ducked`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from app.audio import BLOCK_FRAMES, ms_to_frames


class DuckGain:
    """Gain state for the output callback; `ducked` is what the output meter shows."""

    def __init__(self, *, duck_db: float = -26.0, down_ms: float = 5.0, restore_ms: float = 250.0,
                 window_s: float = 0.6, max_frames: int = BLOCK_FRAMES) -> None:
        self.floor = float(10.0 ** (duck_db / 20.0))
        self.window_s = window_s
        self.ducked = False
        self.ducks = 0  # how many times the reply was lowered (for logs and tests)
        self.restores = 0  # how many of those ended without a flush
        self._gain = 1.0
        self._until = 0.0
        self._down_step = (1.0 - self.floor) / max(1, ms_to_frames(down_ms))
        self._up_step = (1.0 - self.floor) / max(1, ms_to_frames(restore_ms))
        self._steps = np.arange(1, max_frames + 1, dtype=np.float32)
        self._ramp = np.zeros(max_frames, dtype=np.float32)
        self._scratch = np.zeros(max_frames, dtype=np.float32)

    @property
    def gain(self) -> float:
        return self._gain

    def duck(self, now: float) -> None:
        """Lower the reply (from the input callback); restored at `now + window_s` unless a flush comes first."""
        if not self.ducked:
            self.ducks += 1
        self._until = now + self.window_s
        self.ducked = True

    def release(self) -> None:
        """A flush: the ducked reply is gone, the next one plays at full volume from its first frame."""
        self.ducked = False
        self._gain = 1.0

    def apply(self, block: npt.NDArray[np.int16], now: float) -> None:
        """Scale one output block in place, ramping toward the current target."""
        if self.ducked and now >= self._until:
            self.ducked = False
            self.restores += 1
        target = self.floor if self.ducked else 1.0
        gain = self._gain
        if gain == target == 1.0:
            return
        n = len(block)
        ramp = self._ramp[:n]
        if gain > target:
            np.multiply(self._steps[:n], -self._down_step, out=ramp)
            ramp += gain
            np.maximum(ramp, target, out=ramp)
        elif gain < target:
            np.multiply(self._steps[:n], self._up_step, out=ramp)
            ramp += gain
            np.minimum(ramp, target, out=ramp)
        else:
            ramp[:] = gain
        scratch = self._scratch[:n]
        np.multiply(block, ramp, out=scratch)
        block[:] = scratch
        self._gain = float(ramp[-1]) if n else gain
