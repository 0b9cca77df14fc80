"""Filler words ("um", "uh", "mmm") told apart from speech by sound alone, for `remove_filler_words`.

The service recognises fillers by what is said; the emulator cannot transcribe, so it uses an honest
acoustic stand-in: a filler is a vocalisation shorter than FILLER_MAX_MS whose loudness is steady
(frame-level RMS varying by less than MAX_LOUDNESS_VARIATION) and whose pitch is steady (less than
MAX_PITCH_VARIATION) — a held hum. Syllables of speech rise and fall in loudness and glide in pitch.
A short real word said flatly can be taken for a filler; a filler said with a pitch glide is not.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from app.audio import SAMPLE_RATE
from app.emulator.prosody import loudness, pitches

FILLER_MAX_MS = 800
MAX_LOUDNESS_VARIATION = 0.1  # std / mean of 20 ms RMS over the vocalisation's held part
MAX_PITCH_VARIATION = 0.03  # std / mean of the pitch estimates


def filler_measures(pcm: npt.NDArray[np.int16]) -> tuple[float, float, float]:
    """(duration ms, loudness variation, pitch variation) of a vocalisation; variations are inf when unknown."""
    duration = len(pcm) * 1000 / SAMPLE_RATE
    rms = loudness(pcm)
    core = rms[rms > 0.5 * rms.max()][1:-1] if rms.size else rms  # the held part, without onset and fade
    steadiness = float(core.std() / core.mean()) if core.size >= 5 else float("inf")
    found = pitches(pcm)
    voiced = found[~np.isnan(found)]
    pitch = float(voiced.std() / voiced.mean()) if voiced.size >= 0.6 * max(1, found.size) and voiced.size >= 3 \
        else float("inf")
    return duration, steadiness, pitch


def is_filler(pcm: npt.NDArray[np.int16]) -> bool:
    duration, level_variation, pitch_variation = filler_measures(pcm)
    return duration <= FILLER_MAX_MS and level_variation < MAX_LOUDNESS_VARIATION \
        and pitch_variation < MAX_PITCH_VARIATION
