"""The playback buffer: written by the session (asyncio loop), drained by the output callback.

A preallocated ring of int16 frames. The lock is held only for a copy. Positions are counted in frames
since the buffer was made (`_written`, `_handed`), so "how much of item X reached the device" is a
subtraction, and a flush is just moving the read position to the write position after a short fade.

Jitter: playback starts only when `jitter_frames` are buffered (or the reply is already complete), and
re-arms after each underrun or flush, so network jitter becomes a fixed small delay instead of crackle.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.audio import SAMPLE_RATE, frames_to_ms, ms_to_frames


@dataclass
class _Segment:
    item_id: str
    start: int  # write position of the item's first frame
    end: int  # write position after its last frame
    cut: int | None = None  # read position where a flush stopped it (frames after it were dropped)


class PlaybackBuffer:
    """Thread-safe ring buffer with jitter priming, fade-out flush and per-item played-frame accounting."""

    def __init__(self, *, jitter_ms: int = 80, capacity_s: float = 120.0, fade_ms: float = 10.0) -> None:
        self._ring = np.zeros(int(capacity_s * SAMPLE_RATE), dtype=np.int16)
        self._fade = np.linspace(1.0, 0.0, ms_to_frames(fade_ms), dtype=np.float32)
        self._scratch = np.zeros(len(self._fade), dtype=np.float32)
        self._lock = threading.Lock()
        self._written = 0
        self._handed = 0
        self._segments: list[_Segment] = []
        self._open_item: str | None = None
        self._primed = False
        self._flush_pending = False
        self.jitter_frames = ms_to_frames(jitter_ms)
        self.underruns = 0
        self.overflow_frames = 0
        self.flushes = 0
        self.output_delay_s = 0.0  # DAC time - callback time, from the last callback (PortAudio timing)

    # ------------------------------------------------------------------ writer side (asyncio loop)
    def write(self, item_id: str, pcm: npt.NDArray[np.int16]) -> None:
        """Queue PCM for an item; frames that do not fit (a reply > capacity ahead of the DAC) are dropped."""
        with self._lock:
            free = len(self._ring) - (self._written - self._handed)
            if len(pcm) > free:
                self.overflow_frames += len(pcm) - free
                pcm = pcm[:free]
            seg = self._segments[-1] if self._segments else None
            if seg is None or seg.item_id != item_id:
                self._segments.append(_Segment(item_id, self._written, self._written))
                del self._segments[:-64]
                seg = self._segments[-1]
            start = self._written % len(self._ring)
            first = min(len(pcm), len(self._ring) - start)
            self._ring[start : start + first] = pcm[:first]
            self._ring[: len(pcm) - first] = pcm[first:]
            self._written += len(pcm)
            seg.end = self._written
            self._open_item = item_id

    def end_item(self, item_id: str) -> None:
        """The item's audio is complete: what is buffered may play without waiting for the jitter target."""
        with self._lock:
            if self._open_item == item_id:
                self._open_item = None

    def request_flush(self) -> None:
        """Stop playback: the next callback fades out over `fade_ms` and drops everything buffered."""
        with self._lock:
            if self._written > self._handed:
                self._flush_pending = True
            self._open_item = None

    def set_jitter_ms(self, jitter_ms: int) -> None:
        self.jitter_frames = ms_to_frames(jitter_ms)

    # ------------------------------------------------------------------ reader side (audio callback)
    def fill(self, out: npt.NDArray[np.int16]) -> int:
        """Fill `out` (one callback block); returns frames of real audio written. Never blocks for long."""
        n = len(out)
        with self._lock:
            available = self._written - self._handed
            if self._flush_pending:
                count = min(available, n, len(self._fade))
                self._copy_out(out[:count])
                np.multiply(out[:count], self._fade[:count], out=self._scratch[:count], casting="unsafe")
                out[:count] = self._scratch[:count]
                out[count:] = 0
                for seg in self._segments:
                    if seg.end > self._handed and seg.cut is None:
                        seg.cut = self._handed
                self._handed = self._written  # the rest is dropped
                self._flush_pending = False
                self._primed = False
                self.flushes += 1
                return count
            if not self._primed:
                if available >= self.jitter_frames or (available > 0 and self._open_item is None):
                    self._primed = True
                else:
                    out[:] = 0
                    return 0
            count = min(available, n)
            self._copy_out(out[:count])
            out[count:] = 0
            if count < n:
                self._primed = False
                if self._open_item is not None:
                    self.underruns += 1
            return count

    def _copy_out(self, out: npt.NDArray[np.int16]) -> None:
        count = len(out)
        start = self._handed % len(self._ring)
        first = min(count, len(self._ring) - start)
        out[:first] = self._ring[start : start + first]
        out[first:count] = self._ring[: count - first]
        self._handed += count

    # ------------------------------------------------------------------ accounting (any thread)
    def _segment(self, item_id: str) -> _Segment | None:
        for seg in reversed(self._segments):
            if seg.item_id == item_id:
                return seg
        return None

    def received_ms(self, item_id: str) -> int:
        with self._lock:
            seg = self._segment(item_id)
            return frames_to_ms(seg.end - seg.start) if seg else 0

    def played_ms(self, item_id: str) -> int:
        """Audio of the item handed to the device so far (it will all be heard), clamped to what arrived."""
        with self._lock:
            seg = self._segment(item_id)
            if seg is None:
                return 0
            handed = self._handed if seg.cut is None else seg.cut
            if self._flush_pending:  # the fade still to come will be heard too
                handed = min(self._written, handed + len(self._fade))
            return frames_to_ms(min(max(handed - seg.start, 0), seg.end - seg.start))

    def is_playing(self, item_id: str | None = None) -> bool:
        """Whether audio (of `item_id`, if given) is buffered and not yet handed to the device."""
        with self._lock:
            if self._written <= self._handed or self._flush_pending:
                return False
            if item_id is None:
                return True
            seg = self._segment(item_id)
            return seg is not None and seg.end > self._handed

    @property
    def buffered_ms(self) -> int:
        with self._lock:
            return frames_to_ms(self._written - self._handed)

    @property
    def current_item(self) -> str | None:
        """The item whose audio the device is playing or about to play."""
        with self._lock:
            for seg in self._segments:
                if seg.end > self._handed:
                    return seg.item_id
            return None
