"""The PortAudio side: devices, capture, playback. Imports neither Textual nor websockets.

Protocol audio is fixed: 24 kHz, mono, signed 16-bit. The speaker moves 20 ms blocks; the microphone
delivers 10 ms blocks on a native-rate device (20 ms through the resampler), each sent as it comes.
"""

from __future__ import annotations

SAMPLE_RATE = 24000
BLOCK_FRAMES = 480  # 20 ms: a speaker block, a resampled or file microphone block
BYTES_PER_FRAME = 2


def frames_to_ms(frames: int) -> int:
    return frames * 1000 // SAMPLE_RATE


def ms_to_frames(ms: float) -> int:
    return round(ms * SAMPLE_RATE / 1000)
