"""Hearing the user start (and stop) talking in the microphone, before the service says so.

On speakers the reply itself leaks into the microphone, so loudness alone would duck the reply on its
own echo. The detector therefore compares each microphone block with what the output callback handed to
the device (`EchoReference`: energy per block, stamped with its DAC time): the microphone counts as
speech only when it is louder than the loudest reference block that could be echoing in it now (any
delay up to `max_echo_delay_s`), scaled by the learned echo coupling, by `margin_db` — and louder than
an absolute speech level. The coupling is learned while a reply plays and nobody speaks (slow rise, slow
decay), so on headphones (no echo) it sinks and quiet speech triggers, and on speakers it settles at the
room's echo level and only speech above the echo does.

Both classes run on the audio threads: preallocated arrays, plain floats, no locks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from app.audio import SAMPLE_RATE

_FULL_SCALE_SQ = 32768.0 * 32768.0
_SUB_FRAMES = 120  # 5 ms: the resolution of an onset inside a 20 ms block


@dataclass(frozen=True)
class LocalSpeech:
    """A local speech onset or end, handed to the session's loop with `call_soon_threadsafe`."""

    kind: Literal["start", "stop"]
    at: float  # time.monotonic() when the speech reached the microphone (onset) or was last heard (stop)
    during_playback: bool  # a reply was playing at the speaker
    ducked: bool  # the engine lowered the reply because of it


class EchoReference:
    """Energy (mean square, int16 units) of each block handed to the output device, by DAC start time."""

    def __init__(self, size: int = 64, block_s: float = 0.02) -> None:
        self._dac = np.full(size, -math.inf, dtype=np.float64)
        self._energy = np.zeros(size, dtype=np.float64)
        self._next = 0
        self._size = size
        self.block_s = block_s
        self.last_audio_at = -math.inf  # DAC time of the last block holding reply audio

    def record(self, dac_time: float, energy: float, *, audio: bool) -> None:
        """One output block; `audio` when it held reply audio (even a quiet stretch), not just silence."""
        i = self._next % self._size
        self._dac[i] = dac_time
        self._energy[i] = energy
        self._next += 1
        if audio:
            self.last_audio_at = dac_time

    def loudest(self, t0: float, t1: float) -> float:
        """The largest energy of the blocks playing at any time in [t0, t1]."""
        mask = (self._dac <= t1) & (self._dac + self.block_s >= t0)
        return float(self._energy[mask].max()) if mask.any() else 0.0


class SpeechDetector:
    """Energy-over-echo onset detection with a hangover for the end of speech."""

    def __init__(self, reference: EchoReference, *, threshold_dbfs: float = -35.0, margin_db: float = 9.0,
                 max_echo_delay_s: float = 0.25, hangover_s: float = 0.3, initial_coupling_db: float = 0.0,
                 block_frames: int = 480) -> None:
        self.reference = reference
        self.threshold_dbfs = threshold_dbfs
        self.margin = 10.0 ** (margin_db / 10.0)
        self.max_echo_delay_s = max_echo_delay_s
        self.hangover_s = hangover_s
        self.coupling = 10.0 ** (initial_coupling_db / 10.0)  # echo energy / reference energy, learned
        self.min_coupling = 1e-4  # -40 dB: never more sensitive than this
        self.speaking = False
        self.onset_at = 0.0
        self.last_voice_at = -math.inf
        self._previous_tail = False  # the last 5 ms of the previous block were above the threshold
        self._scratch = np.zeros(block_frames, dtype=np.float32)

    @property
    def absolute_energy(self) -> float:
        return float(_FULL_SCALE_SQ * 10.0 ** (self.threshold_dbfs / 10.0))

    def process(self, block: npt.NDArray[np.int16], t_start: float) -> Literal["start", "stop"] | None:
        """Feed one microphone block whose first sample was captured at `t_start` (monotonic)."""
        n = len(block)
        t_end = t_start + n / SAMPLE_RATE
        scratch = self._scratch[:n]
        scratch[:] = block
        np.square(scratch, out=scratch)
        subs = n // _SUB_FRAMES
        energies = scratch[: subs * _SUB_FRAMES].reshape(subs, _SUB_FRAMES).mean(axis=1)
        block_energy = float(scratch.mean())
        echo = self.reference.loudest(t_start - self.max_echo_delay_s, t_end + 0.03)
        threshold = max(self.absolute_energy, self.margin * max(self.coupling, self.min_coupling) * echo)
        above = energies > threshold
        first = _first_pair(above, self._previous_tail)
        self._previous_tail = bool(above[-1]) if subs else False
        if first is not None or (self.speaking and above.any()):
            last = int(np.flatnonzero(above)[-1]) if above.any() else first or 0
            self.last_voice_at = t_start + (last + 1) * _SUB_FRAMES / SAMPLE_RATE
        if not self.speaking:
            if first is None:
                if echo > 0.0:
                    self._learn(block_energy / echo)
                return None
            self.speaking = True
            self.onset_at = t_start + first * _SUB_FRAMES / SAMPLE_RATE
            return "start"
        if t_end - self.last_voice_at >= self.hangover_s:
            self.speaking = False
            return "stop"
        return None

    def _learn(self, ratio: float) -> None:
        """Track the echo coupling: rise a fifth of the way toward a larger ratio, decay ~1 dB a second."""
        if ratio > self.coupling:
            self.coupling += 0.2 * (ratio - self.coupling)
        else:
            self.coupling = max(self.min_coupling, self.coupling * 0.9954)


def _first_pair(above: npt.NDArray[np.bool_], previous_tail: bool) -> int | None:
    """Index of the first sub-window of two consecutive loud ones (10 ms: a click is not speech); -1 if the
    pair began with the previous block's last sub-window."""
    if len(above) and previous_tail and above[0]:
        return -1
    for i in range(len(above) - 1):
        if above[i] and above[i + 1]:
            return i
    return None
