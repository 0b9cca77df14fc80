"""Block-wise resampling between a device's native rate and the protocol's 24 kHz.

Used only when a device cannot be opened at 24 kHz. Both sides move 20 ms blocks, so each callback block
maps to exactly one protocol block; interpolation is linear within the block (the last sample is held
for the final fraction of a frame). Quality: fine for speech (some roll-off near Nyquist, no
anti-aliasing filter when downsampling), not for music. All buffers are preallocated: it runs in callbacks.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class BlockResampler:
    def __init__(self, frames_in: int, frames_out: int) -> None:
        self.frames_in = frames_in
        self.frames_out = frames_out
        positions = np.arange(frames_out, dtype=np.float64) * (frames_in / frames_out)
        self._index = np.floor(positions).astype(np.int64)
        self._frac = (positions - self._index).astype(np.float32)
        self._extended = np.zeros(frames_in + 1, dtype=np.float32)
        self._left = np.zeros(frames_out, dtype=np.float32)
        self._right = np.zeros(frames_out, dtype=np.float32)

    def process(self, block: npt.NDArray[np.int16], out: npt.NDArray[np.int16]) -> None:
        """Resample one block of `frames_in` samples into `out` (`frames_out` samples)."""
        ext = self._extended
        ext[: self.frames_in] = block
        ext[self.frames_in] = block[-1]
        np.take(ext, self._index, out=self._left)
        np.take(ext, self._index + 1, out=self._right)
        np.subtract(self._right, self._left, out=self._right)
        np.multiply(self._right, self._frac, out=self._right)
        np.add(self._left, self._right, out=self._left)
        np.clip(self._left, -32768, 32767, out=self._left)
        out[:] = self._left
