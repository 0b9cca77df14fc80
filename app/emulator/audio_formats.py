"""The audio formats the service accepts, converted for real: G.711 µ-law / A-law and PCM at several rates.

Inside, the emulator works on 24 kHz int16 (its VAD, its buffer, its replies); input is decoded and
resampled into that, replies are resampled and encoded out of it. The G.711 codecs are the ITU-T
segment (companding) tables expressed as vectorised numpy; resampling is linear interpolation, carried
across appends so the input timeline stays exact.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from app.audio import SAMPLE_RATE
from app.audio.wav import resample

INPUT_FORMATS = ("pcm16", "g711_ulaw", "g711_alaw")
INPUT_RATES = (8000, 16000, 24000, 44100, 48000)  # pcm16; G.711 is always 8 kHz
OUTPUT_RATES = {
    "pcm16": 24000, "pcm16_8000hz": 8000, "pcm16_16000hz": 16000, "pcm16_22050hz": 22050,
    "pcm16_24000hz": 24000, "pcm16_44100hz": 44100, "pcm16_48000hz": 48000, "g711_ulaw": 8000, "g711_alaw": 8000,
}
G711_RATE = 8000

_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159  # in 14-bit units


def _segment(magnitude: npt.NDArray[np.int32], first_top: int) -> npt.NDArray[np.int32]:
    """Index 0..7 of the companding segment: segment k holds values below first_top << k."""
    seg = np.zeros(magnitude.shape, dtype=np.int32)
    for k in range(7):
        seg += magnitude >= (first_top << k)
    return seg


def ulaw_encode(pcm: npt.NDArray[np.int16]) -> bytes:
    """µ-law works on 14-bit magnitudes: drop two bits (flooring, as the reference coder does), bias, clip."""
    x = pcm.astype(np.int32) >> 2
    negative = x < 0
    magnitude = np.minimum(np.where(negative, -x, x), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    seg = _segment(magnitude, 64)
    mantissa = np.where(magnitude >= 64 << 7, 0x0F, (magnitude >> (seg + 1)) & 0x0F)  # past the top: the maximum
    mask = np.where(negative, 0x7F, 0xFF)
    return (((seg << 4) | mantissa) ^ mask).astype(np.uint8).tobytes()


def ulaw_decode(data: bytes) -> npt.NDArray[np.int16]:
    u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    seg = (u >> 4) & 0x07
    magnitude = (((u & 0x0F) << 3) + _ULAW_BIAS) << seg
    return np.where(u & 0x80, _ULAW_BIAS - magnitude, magnitude - _ULAW_BIAS).astype(np.int16)


def alaw_encode(pcm: npt.NDArray[np.int16]) -> bytes:
    x = pcm.astype(np.int32)
    negative = x < 0
    magnitude = np.where(negative, -x - 1, x)  # -1 → 0 and -32768 → 32767, as the standard folds them
    seg = _segment(magnitude, 256)
    mantissa = np.where(seg == 0, magnitude >> 4, magnitude >> (seg + 3)) & 0x0F
    mask = np.where(negative, 0x55, 0xD5)
    return (((seg << 4) | mantissa) ^ mask).astype(np.uint8).tobytes()


def alaw_decode(data: bytes) -> npt.NDArray[np.int16]:
    a = np.frombuffer(data, dtype=np.uint8).astype(np.int32) ^ 0x55
    seg = (a >> 4) & 0x07
    step = (a & 0x0F) << 4
    magnitude = np.where(seg == 0, step + 8, (step + 0x108) << np.maximum(seg - 1, 0))
    return np.where(a & 0x80, magnitude, -magnitude).astype(np.int16)


class StreamResampler:
    """Linear interpolation from `rate_in` to `rate_out` over a stream of chunks, continuous at the joins."""

    def __init__(self, rate_in: int, rate_out: int = SAMPLE_RATE) -> None:
        self.rate_in, self.rate_out = rate_in, rate_out
        self._step = rate_in / rate_out
        self._last: float | None = None  # the previous chunk's final sample
        self._next = 0.0  # where the next output sample falls, in input samples from this chunk's start

    def feed(self, chunk: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        if self.rate_in == self.rate_out or chunk.size == 0:
            return chunk
        data = chunk.astype(np.float64)
        offset = 0
        if self._last is not None:
            data = np.concatenate([[self._last], data])
            offset = 1
        start = self._next + offset
        count = max(0, int(np.floor((len(data) - 1 - start) / self._step)) + 1)
        positions = start + np.arange(count) * self._step
        out: npt.NDArray[np.float64] = np.interp(positions, np.arange(len(data)), data)
        self._next = start + count * self._step - offset - len(chunk)
        self._last = float(chunk[-1])
        return np.clip(np.round(out), -32768, 32767).astype(np.int16)


class InputDecoder:
    """Bytes of `input_audio_buffer.append` in the session's input format → 24 kHz int16."""

    def __init__(self, fmt: str = "pcm16", rate: int = SAMPLE_RATE) -> None:
        self.format = fmt
        self.rate = G711_RATE if fmt.startswith("g711") else rate
        self._resampler = StreamResampler(self.rate)

    def decode(self, raw: bytes) -> npt.NDArray[np.int16]:
        if self.format == "g711_ulaw":
            pcm = ulaw_decode(raw)
        elif self.format == "g711_alaw":
            pcm = alaw_decode(raw)
        else:
            pcm = np.frombuffer(raw[: len(raw) - len(raw) % 2], dtype="<i2")
        return self._resampler.feed(pcm)


def encode_output(pcm: npt.NDArray[np.int16], fmt: str) -> tuple[bytes, int]:
    """24 kHz int16 → the bytes of `output_audio_format`, and the bytes per second of that format."""
    rate = OUTPUT_RATES[fmt]
    out = resample(pcm, SAMPLE_RATE, rate)
    if fmt == "g711_ulaw":
        return ulaw_encode(out), rate
    if fmt == "g711_alaw":
        return alaw_encode(out), rate
    return out.astype("<i2").tobytes(), rate * 2


def wire_chunks(pcm: npt.NDArray[np.int16], fmt: str, chunk_ms: int) -> list[tuple[npt.NDArray[np.int16], bytes]]:
    """A reply cut into `chunk_ms` pieces: each as 24 kHz PCM (what was said) and as the bytes sent for it."""
    wire, _ = encode_output(pcm, fmt)
    width = 1 if fmt.startswith("g711") else 2
    rate = OUTPUT_RATES[fmt]
    step = max(1, chunk_ms * SAMPLE_RATE // 1000)
    edges = [*range(0, len(pcm), step), len(pcm)]
    cuts = [min(len(wire), round(e * rate / SAMPLE_RATE) * width) for e in edges[:-1]] + [len(wire)]
    return [(pcm[a:b], wire[c:d]) for a, b, c, d in zip(edges, edges[1:], cuts, cuts[1:], strict=False)]
