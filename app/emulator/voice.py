"""What the emulator says: your own utterance back, espeak-ng speech for typed text, or a tone."""

from __future__ import annotations

import asyncio
import io
import shutil
import wave

import numpy as np
import numpy.typing as npt

from app.audio import SAMPLE_RATE
from app.audio.wav import resample


def tone(seconds: float = 0.8, freq: float = 440.0, level: float = 0.25) -> npt.NDArray[np.int16]:
    """A soft sine with 10 ms fades (no clicks)."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    wave_ = np.sin(2 * np.pi * freq * t) * level
    ramp = min(len(wave_) // 2, SAMPLE_RATE // 100)
    if ramp:
        wave_[:ramp] *= np.linspace(0, 1, ramp)
        wave_[-ramp:] *= np.linspace(1, 0, ramp)
    return (wave_ * 32767).astype(np.int16)


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


async def speak(text: str) -> npt.NDArray[np.int16] | None:
    """Synthesise `text` with espeak-ng at 24 kHz, or None when it is not installed or fails."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    try:
        proc = await asyncio.create_subprocess_exec(
            exe, "--stdout", "-s", "170", text[:500],
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=10)
        with wave.open(io.BytesIO(out), "rb") as reader:
            rate = reader.getframerate()
            raw = reader.readframes(reader.getnframes())
    except (OSError, asyncio.TimeoutError, wave.Error, EOFError):
        return None
    return resample(np.frombuffer(raw, dtype="<i2").copy(), rate)


async def reply_for_text(text: str) -> tuple[str, npt.NDArray[np.int16]]:
    """Transcript and audio for a typed message; the transcript says how the audio was made."""
    spoken = await speak(f"You typed: {text}")
    if spoken is not None:
        return f"You typed: {text}", spoken
    return f"You typed: {text} (a tone plays because espeak-ng is not installed)", tone()


def reply_for_speech(utterance: npt.NDArray[np.int16]) -> tuple[str, npt.NDArray[np.int16]]:
    seconds = len(utterance) / SAMPLE_RATE
    return f"I heard {seconds:.1f} seconds of speech; here it is back.", utterance


def viseme_for(pcm: npt.NDArray[np.int16]) -> int:
    """A stand-in viseme id for a piece of reply audio: 0 (silence) when quiet, else 1–21 by brightness
    (zero-crossing rate). It has the service's shape and timing, not real lip-sync."""
    if pcm.size == 0:
        return 0
    samples = pcm.astype(np.float32)
    if float(np.sqrt(np.mean(samples * samples))) < 0.01 * 32768:
        return 0
    crossings = float(np.mean(np.signbit(samples[1:]) != np.signbit(samples[:-1]))) if pcm.size > 1 else 0.0
    return 1 + min(20, int(crossings * 80))
