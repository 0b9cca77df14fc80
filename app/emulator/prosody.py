"""Pitch and loudness of a stretch of speech: what the emulator's acoustic stand-ins for the service's
semantic features (filler words, end of utterance) look at.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from app.audio import SAMPLE_RATE

HOP = SAMPLE_RATE // 50  # 20 ms
WINDOW = SAMPLE_RATE // 25  # 40 ms: two periods even at 50 Hz
_LAGS = (SAMPLE_RATE // 400, SAMPLE_RATE // 60)  # pitch between 60 and 400 Hz


def frames(pcm: npt.NDArray[np.int16], size: int) -> npt.NDArray[np.float64]:
    """Overlapping frames of `size` samples every HOP."""
    count = 1 + (len(pcm) - size) // HOP if len(pcm) >= size else 0
    index = np.arange(size)[None, :] + HOP * np.arange(count)[:, None]
    return pcm.astype(np.float64)[index] if count else np.zeros((0, size))


def pitches(pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.float64]:
    """Autocorrelation pitch (Hz) every 20 ms, NaN where the sound is not clearly periodic."""
    windows = frames(pcm, WINDOW)
    if not len(windows):
        return np.zeros(0)
    centred = windows - windows.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centred, 2 * WINDOW, axis=1)
    corr = np.fft.irfft(spectrum * np.conj(spectrum), axis=1)[:, :WINDOW]
    low, high = _LAGS
    lag = low + np.argmax(corr[:, low:high], axis=1)
    strength = corr[np.arange(len(lag)), lag] / np.maximum(corr[:, 0], 1e-9)
    return np.where(strength > 0.5, SAMPLE_RATE / lag, np.nan)


def loudness(pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.float64]:
    """RMS every 20 ms."""
    return np.sqrt(np.mean(frames(pcm, HOP) ** 2, axis=1)) if len(pcm) >= HOP else np.zeros(0)


RISE_FOR_UNFINISHED = 0.04  # the last part of an utterance this much higher in pitch than before it
TAIL_MS = 600


def sounds_finished(pcm: npt.NDArray[np.int16]) -> bool:
    """False when the utterance ends on a rising pitch (a continuation rise: "and then…", a list, a
    question tag), the one cue of an unfinished turn that sound alone carries; True otherwise, and when
    there is too little voiced sound to tell."""
    voiced = pitches(pcm[-TAIL_MS * SAMPLE_RATE // 1000 :])
    voiced = voiced[~np.isnan(voiced)]
    if voiced.size < 6:
        return True
    third = voiced.size // 3
    before, last = float(np.median(voiced[:third])), float(np.median(voiced[-third:]))
    return last < before * (1 + RISE_FOR_UNFINISHED)
