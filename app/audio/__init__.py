"""The PortAudio side: devices, capture, playback. Imports neither Textual nor websockets.

Protocol audio is fixed: 24 kHz, mono, signed 16-bit, moved in 20 ms blocks.
"""

from __future__ import annotations

SAMPLE_RATE = 24000
BLOCK_FRAMES = 480  # 20 ms
BYTES_PER_FRAME = 2


def frames_to_ms(frames: int) -> int:
    return frames * 1000 // SAMPLE_RATE


def ms_to_frames(ms: float) -> int:
    return round(ms * SAMPLE_RATE / 1000)
