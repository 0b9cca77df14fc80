"""Hearing the user start (and stop) talking in the microphone, before the service says so.

On speakers the reply leaks into the microphone, so loudness alone would duck the reply on its own echo.
Both directions are therefore kept as energy envelopes on one clock, in 5 ms bins: what the output
callback handed to the device by the time it reaches the DAC (`EchoReference`), and what the microphone
captured by the time it reached the ADC. Every 200 ms the detector correlates the two envelopes over
the last two seconds for echo delays of 0–400 ms (the room, a Bluetooth speaker, a loopback): when they
match, the echo's delay and its coupling (median microphone/reference energy at that delay) are known,
and a microphone bin counts as speech only if it is `margin_db` louder than the echo expected from the
reference at that delay. With no match and a microphone far quieter than the reply (headphones), any
speech above the absolute level counts. Until the first estimate, the echo is assumed as loud as the
loudest reference of the last 250 ms, which never ducks on echo but needs speech louder than the reply.

The absolute level is low (−45 dBFS over 5 ms, where a spoken onset's first samples cross −40 dBFS
peak) so the duck comes early in the word, not 15–25 ms into it as at −35 dBFS: measured in the whole-app
benchmark, that wait was half the duck's latency. A room's steady noise must not count: a bin must also
be `floor_margin_db` above the microphone's noise floor, the quietest 5 ms of the last 1.5 s, so a fan is
learned and speech is judged above it. Speech has pauses, so it never becomes its own floor. Digital
silence (a noise-suppressing or gated microphone between words, a muted or just-opened stream, the
virtual devices) is a floor of nothing: when it was left out, the first 100 ms slot after silence took
the word's own onset as the room, so the rest of the onset fell under it and the duck came 25–55 ms late
(measured: 3 of 90 whole-app ducks). So a noise that starts after silence (or is there when the stream
opens) may count as speech for up to 1.5 s, one duck at most.

An onset is two loud 5 ms bins in a row (a click is not speech); the end is `hangover_s` without one.
Both classes run on the audio threads: preallocated arrays, plain floats, no locks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from app.audio import SAMPLE_RATE

BIN_S = 0.005
BIN_FRAMES = 120
_HISTORY = 512  # bins: 2.56 s
_DELAY_SLACK_BINS = 4
_FULL_SCALE_SQ = 32768.0 * 32768.0
_FLOOR_SLOT_BINS = 20  # the noise floor is the quietest bin of each 100 ms ...
_FLOOR_SLOTS = 15  # ... over the last 1.5 s


@dataclass(frozen=True)
class LocalSpeech:
    """A local speech onset or end, handed to the session's loop with `call_soon_threadsafe`."""

    kind: Literal["start", "stop"]
    at: float  # time.monotonic() when the speech reached the microphone (onset) or was last heard (stop)
    during_playback: bool  # a reply was playing at the speaker
    ducked: bool  # the engine lowered the reply because of it


class EnergyBins:
    """Energy (mean square, int16 units) per 5 ms bin of the monotonic clock, for the last 2.56 s."""

    def __init__(self) -> None:
        self.energy = np.zeros(_HISTORY, dtype=np.float64)
        self.stamp = np.full(_HISTORY, -1, dtype=np.int64)  # which absolute bin each slot holds

    def put(self, block: npt.NDArray[np.int16], t_start: float, scratch: npt.NDArray[np.float32]) -> list[float]:
        """Store a block's bins (its first sample at `t_start`); returns their energies."""
        n = len(block) // BIN_FRAMES * BIN_FRAMES
        samples = scratch[:n]
        samples[:] = block[:n]
        energies = [float(np.dot(part, part)) / BIN_FRAMES
                    for part in (samples[k : k + BIN_FRAMES] for k in range(0, n, BIN_FRAMES))]
        first = round(t_start / BIN_S)
        for k, energy in enumerate(energies):
            slot = (first + k) % _HISTORY
            self.energy[slot] = energy
            self.stamp[slot] = first + k
        return energies

    def get(self, first: int, count: int) -> npt.NDArray[np.float64]:
        """Energies of bins first..first+count-1; missing bins read as 0 (nothing played or heard)."""
        bins = np.arange(first, first + count)
        slots = bins % _HISTORY
        return np.where(self.stamp[slots] == bins, self.energy[slots], 0.0)

    def loudest(self, first: int, count: int) -> float:
        """The largest energy among bins first..first+count-1 (the audio thread's cheap path)."""
        start = first % _HISTORY
        end = start + count
        if end <= _HISTORY and self.stamp[start] == first and self.stamp[end - 1] == first + count - 1:
            return float(self.energy[start:end].max())
        return float(self.get(first, count).max())


class EchoReference(EnergyBins):
    """What the output device plays, by DAC time, and when it last played reply audio."""

    def __init__(self) -> None:
        super().__init__()
        self.last_audio_at = -math.inf  # DAC time of the end of the last block holding reply audio

    def played(self, block: npt.NDArray[np.int16], dac_time: float, scratch: npt.NDArray[np.float32], *,
               audio: bool) -> None:
        self.put(block, dac_time, scratch)
        if audio:
            self.last_audio_at = dac_time + len(block) / SAMPLE_RATE


class SpeechDetector:
    """Energy-over-expected-echo onset detection, with the echo's delay and coupling learned."""

    def __init__(self, reference: EchoReference, *, threshold_dbfs: float = -45.0, margin_db: float = 9.0,
                 floor_margin_db: float = 12.0, max_echo_delay_s: float = 0.4, hangover_s: float = 0.3) -> None:
        self.reference = reference
        self.mic = EnergyBins()
        self.threshold_dbfs = threshold_dbfs
        self.margin = 10.0 ** (margin_db / 10.0)
        self.floor_margin = 10.0 ** (floor_margin_db / 10.0)
        self.noise_floor = 0.0  # the room's steady noise (energy per bin); none known before 100 ms are heard
        self._slot_min = [math.inf] * _FLOOR_SLOTS
        self._slot = 0
        self._slot_bins = 0
        self.max_lag = int(max_echo_delay_s / BIN_S)
        self.hangover_s = hangover_s
        self.echo_delay_bins: int | None = None  # learned; None: unknown
        self.coupling = 1.0  # echo energy / reference energy at that delay (1.0 = 0 dB until learned)
        self.speaking = False
        self.onset_at = 0.0
        self.last_voice_at = -math.inf
        self._previous_loud = False
        self._blocks = 0
        self._scratch = np.zeros(960, dtype=np.float32)
        # Runs the envelope correlation off the audio thread (the engine's worker); None: inline.
        self.schedule: Callable[[Callable[[], None]], None] | None = None

    @property
    def absolute_energy(self) -> float:
        return float(_FULL_SCALE_SQ * 10.0 ** (self.threshold_dbfs / 10.0))

    def expected_echo(self, first_bin: int, count: int) -> float:
        """The loudest echo to expect in microphone bins first..first+count-1 from what the speaker played."""
        if self.echo_delay_bins is None:  # unknown delay: the loudest of the last 250 ms, at 0 dB
            return self.reference.loudest(first_bin - 50, 50 + count + 6) * self.coupling
        slack = _DELAY_SLACK_BINS  # the aligned bins, give or take 20 ms: delays drift between estimates
        near = self.reference.loudest(first_bin - self.echo_delay_bins - slack, count + 2 * slack)
        return near * 2.0 * self.coupling  # +3 dB: the echo's level wanders around its median

    def process(self, block: npt.NDArray[np.int16], t_start: float) -> Literal["start", "stop"] | None:
        """Feed one microphone block whose first sample was captured at `t_start` (monotonic)."""
        energies = self.mic.put(block, t_start, self._scratch)
        count = len(energies)
        if count == 0:
            return None
        first = round(t_start / BIN_S)
        threshold = max(self.absolute_energy, self.floor_margin * self.noise_floor,
                        self.margin * self.expected_echo(first, count))
        loud = [energy > threshold for energy in energies]
        for energy in energies:
            self._follow_floor(energy)
        onset = _first_pair(loud, self._previous_loud)
        self._previous_loud = loud[-1]
        if any(loud) and (self.speaking or onset is not None):
            self.last_voice_at = t_start + (count - loud[::-1].index(True)) * BIN_S
        self._blocks += 1
        if not self.speaking and self._blocks % max(1, round(0.2 / (count * BIN_S))) == 0:
            end = first + count
            if self.schedule is None:
                self._estimate(end)
            else:
                self.schedule(lambda: self._estimate(end))
        if not self.speaking:
            if onset is None:
                return None
            self.speaking = True
            self.onset_at = t_start + onset * BIN_S
            return "start"
        if t_start + count * BIN_S - self.last_voice_at >= self.hangover_s:
            self.speaking = False
            return "stop"
        return None

    def _follow_floor(self, energy: float) -> None:
        """One bin into the floor's 100 ms minima; every 100 ms the floor becomes the least of the last 1.5 s."""
        if energy < self._slot_min[self._slot]:
            self._slot_min[self._slot] = energy
        self._slot_bins += 1
        if self._slot_bins == _FLOOR_SLOT_BINS:
            self._slot_bins = 0
            quietest = min(self._slot_min)
            self.noise_floor = quietest
            self._slot = (self._slot + 1) % _FLOOR_SLOTS
            self._slot_min[self._slot] = math.inf

    def _estimate(self, end_bin: int) -> None:
        """Correlate the last two seconds of microphone and reference envelopes to find the echo.

        A few hundred kilobytes of temporaries and ~1 ms of numpy: the engine runs it on its worker.
        """
        span = _HISTORY - self.max_lag - 8
        mic = self.mic.get(end_bin - span, span)
        ref = self.reference.get(end_bin - span - self.max_lag, span + self.max_lag)
        floor = self.absolute_energy * 0.01  # reference bins quieter than this say nothing about the echo
        shifted = np.lib.stride_tricks.sliding_window_view(ref, span)[::-1]  # row k: the reference k bins earlier
        active = shifted > floor
        if active.sum(axis=1).min() < 100:
            return  # not half a second of reply yet
        log_ref = np.lib.stride_tricks.sliding_window_view(np.log10(ref + 1.0), span)[::-1]
        scores = _masked_correlations(np.log10(mic + 1.0), log_ref, active)
        best = int(np.argmax(scores))
        ratios = mic[active[best]] / shifted[best][active[best]]
        if scores[best] > 0.5:
            self.echo_delay_bins = best
            self.coupling = max(float(np.median(ratios)), 1e-5)
        elif float(np.percentile(ratios, 90)) < 1e-3:  # the microphone hears nothing like the reply
            self.echo_delay_bins = 0
            self.coupling = 1e-5


def _masked_correlations(mic: npt.NDArray[np.float64], refs: npt.NDArray[np.float64],
                         mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """Pearson correlation of `mic` with each row of `refs`, over the bins each row's `mask` keeps."""
    weight = mask.astype(np.float64)
    n = weight.sum(axis=1)
    mean_m = weight @ mic / n
    masked_refs = refs * weight
    mean_r = masked_refs.sum(axis=1) / n
    cov = masked_refs @ mic / n - mean_m * mean_r
    var_m = weight @ (mic * mic) / n - mean_m**2
    var_r = (masked_refs * refs).sum(axis=1) / n - mean_r**2
    denominator = np.sqrt(np.maximum(var_m * var_r, 0.0))
    return np.where(denominator > 1e-12, cov / np.where(denominator > 1e-12, denominator, 1.0), 0.0)


def _first_pair(loud: list[bool], previous: bool) -> int | None:
    """Index of the first of two consecutive loud bins (-1: the pair began with the previous block's last)."""
    if len(loud) and previous and loud[0]:
        return -1
    for i in range(len(loud) - 1):
        if loud[i] and loud[i + 1]:
            return i
    return None
