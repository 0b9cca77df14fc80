"""WAV files in and out, converted to the protocol's 24 kHz mono int16.

Resampling is linear interpolation: cheap and click-free, with some high-frequency roll-off — fine for
speech and for a mic check, not for music.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.audio import SAMPLE_RATE


class WavError(ValueError):
    """A WAV file that cannot be used; the message is one sentence for the user."""


def resample(samples: npt.NDArray[np.int16], rate_in: int, rate_out: int = SAMPLE_RATE) -> npt.NDArray[np.int16]:
    """Linear-interpolation resampling of mono int16."""
    if rate_in == rate_out or samples.size == 0:
        return samples
    count = round(len(samples) * rate_out / rate_in)
    positions = np.arange(count, dtype=np.float64) * (rate_in / rate_out)
    out = np.interp(positions, np.arange(len(samples), dtype=np.float64), samples.astype(np.float64))
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def read_wav(path: Path) -> npt.NDArray[np.int16]:
    """Read any 8/16/32-bit PCM WAV, mix to mono and resample to 24 kHz."""
    try:
        with wave.open(str(path), "rb") as reader:
            channels = reader.getnchannels()
            width = reader.getsampwidth()
            rate = reader.getframerate()
            raw = reader.readframes(reader.getnframes())
    except FileNotFoundError:
        raise WavError(f"The WAV file {path} does not exist.") from None
    except (wave.Error, EOFError, OSError) as exc:
        raise WavError(f"{path} is not a readable PCM WAV file ({exc}).") from None
    if width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    elif width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) * 256.0
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4").astype(np.float64) / 65536.0
    else:
        raise WavError(f"{path} uses {width * 8}-bit samples; use 8, 16 or 32-bit PCM.")
    if channels > 1:
        data = data[: len(data) - len(data) % channels].reshape(-1, channels).mean(axis=1)
    mono = np.clip(np.round(data), -32768, 32767).astype(np.int16)
    return resample(mono, rate)


def write_wav(path: Path, samples: npt.NDArray[np.int16], rate: int = SAMPLE_RATE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples.astype("<i2").tobytes())
