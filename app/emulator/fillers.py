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

FILLER_MAX_MS = 800
MAX_LOUDNESS_VARIATION = 0.1  # std / mean of 20 ms RMS over the vocalisation's held part
MAX_PITCH_VARIATION = 0.03  # std / mean of the pitch estimates
_HOP = SAMPLE_RATE // 50  # 20 ms
_WINDOW = SAMPLE_RATE // 25  # 40 ms: two periods even at 50 Hz
_LAGS = (SAMPLE_RATE // 400, SAMPLE_RATE // 60)  # pitch between 60 and 400 Hz


def _frames(pcm: npt.NDArray[np.int16], size: int) -> npt.NDArray[np.float64]:
    count = 1 + (len(pcm) - size) // _HOP if len(pcm) >= size else 0
    index = np.arange(size)[None, :] + _HOP * np.arange(count)[:, None]
    return pcm.astype(np.float64)[index] if count else np.zeros((0, size))


def _pitches(frames: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Autocorrelation pitch per frame (Hz), NaN where the frame is not clearly periodic."""
    centred = frames - frames.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centred, 2 * frames.shape[1], axis=1)
    corr = np.fft.irfft(spectrum * np.conj(spectrum), axis=1)[:, : frames.shape[1]]
    low, high = _LAGS
    lag = low + np.argmax(corr[:, low:high], axis=1)
    strength = corr[np.arange(len(lag)), lag] / np.maximum(corr[:, 0], 1e-9)
    return np.where(strength > 0.5, SAMPLE_RATE / lag, np.nan)


def filler_measures(pcm: npt.NDArray[np.int16]) -> tuple[float, float, float]:
    """(duration ms, loudness variation, pitch variation) of a vocalisation; variations are inf when unknown."""
    duration = len(pcm) * 1000 / SAMPLE_RATE
    rms = np.sqrt(np.mean(_frames(pcm, _HOP) ** 2, axis=1)) if len(pcm) >= _HOP else np.zeros(0)
    core = rms[rms > 0.5 * rms.max()][1:-1] if rms.size else rms  # the held part, without onset and fade
    loudness = float(core.std() / core.mean()) if core.size >= 5 else float("inf")
    pitches = _pitches(_frames(pcm, _WINDOW))
    voiced = pitches[~np.isnan(pitches)]
    pitch = float(voiced.std() / voiced.mean()) if voiced.size >= 0.6 * max(1, pitches.size) and voiced.size >= 3 \
        else float("inf")
    return duration, loudness, pitch


def is_filler(pcm: npt.NDArray[np.int16]) -> bool:
    duration, loudness, pitch = filler_measures(pcm)
    return duration <= FILLER_MAX_MS and loudness < MAX_LOUDNESS_VARIATION and pitch < MAX_PITCH_VARIATION
