"""The playback buffer: written by the session (its event loop), drained by the output callback.

A preallocated ring of int16 frames. The lock is held only for a copy. Positions are counted in frames
since the buffer was made (`_written`, `_handed`), so "how much of item X was heard" is a subtraction
against the position the DAC had reached (`PlayedTimeline`), not against what was handed to PortAudio.

A flush takes effect when it is requested: everything written before the request is dropped and the
items written after it play in full. Who silences what is already queued in the device depends on the
output: with `device_flush` the engine drops the device's queue (and reports when, `device_dropped`);
without it the next callback fades the old audio out over `fade_ms` and the device plays out its queue.

Jitter: playback starts only when `jitter_frames` are buffered (or the reply is already complete), and
re-arms after each underrun or flush, so network jitter becomes a fixed small delay instead of crackle.
When a reply starts on a freshly restarted output stream (the engine drops the silence queued in the
device so the reply is heard at once), the device takes its whole queue at once (~40 ms, which the engine
passes as `start_frames`): those frames are then in the device, not in this buffer, so they are waited for
on top of the target.
Without that, a reply started with only half its jitter margin left here: a 3-minute reply paced at real
time with ±30 ms of network jitter had 2-3 audible gaps every 2 minutes, whatever the emulator's priority.
Each underrun also raises the target by `GROW_MS` (up to `MAX_GROWTH_MS` above the setting): a network
that was late once is late again, and a gap heard once is better than a gap every minute. Each reply that
plays without one gives back `DECAY_MS`, so a passing hiccup does not delay every reply for good; a new
jitter setting starts from itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.audio import BLOCK_FRAMES, SAMPLE_RATE, frames_to_ms, ms_to_frames
from app.audio.stretch import BlockStretcher
from app.audio.timeline import NO_TIMING, PlayedTimeline

GROW_MS = 20  # the jitter target grows by this much after each underrun ...
MAX_GROWTH_MS = 80  # ... up to this much above the setting ...
DECAY_MS = 5  # ... and shrinks by this much with each reply that had none
DRIFT_AFTER_MS = 5000  # once this much of a reply has played, below the jitter target a block plays 1 frame slower


@dataclass
class _Segment:
    item_id: str
    start: int  # write position of the item's first frame
    end: int  # write position after its last frame
    cut: int | None = None  # ring position after the last frame heard, once a flush stopped the item
    settled: bool = True  # False while the device may still play past `cut` (its queue not yet dropped)


class PlaybackBuffer:
    """Thread-safe ring buffer with jitter priming, flush on request and per-item heard-frame accounting."""

    def __init__(self, *, jitter_ms: int = 80, capacity_s: float = 120.0, fade_ms: float = 10.0) -> None:
        self._ring = np.zeros(int(capacity_s * SAMPLE_RATE), dtype=np.int16)
        self._fade = np.linspace(1.0, 0.0, ms_to_frames(fade_ms), dtype=np.float32)
        self._scratch = np.zeros(len(self._fade), dtype=np.float32)
        self._stretcher = BlockStretcher(BLOCK_FRAMES)
        self._stretch_source = np.zeros(BLOCK_FRAMES - 1, dtype=np.int16)
        self.stretched_blocks = 0  # blocks played one frame slower to make up for the device's clock
        self._drift_after = ms_to_frames(DRIFT_AFTER_MS)
        self._lock = threading.Lock()
        self._timeline = PlayedTimeline()
        self._written = 0
        self._handed = 0
        self._floor = 0  # nothing before this position may play again (the last flush's target)
        self._fade_from = 0
        self._fade_left = 0
        self._segments: list[_Segment] = []
        self._open_item: str | None = None
        self._primed = False
        self._ran_dry: str | None = None  # the item whose audio ran out before it was complete
        self._underran: str | None = None  # the last item that had an underrun
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self.device_flush = False  # the engine drops the device queue on flush (set while a stream runs)
        self.on_flush: Callable[[], None] | None = None  # called (outside the lock) after a flush request
        self.jitter_frames = ms_to_frames(jitter_ms)
        self.growth_frames = 0  # added to the target by underruns (see GROW_MS)
        self.underruns = 0  # times a reply's audio ran out and more of it came later (a gap was heard)
        self.overflow_frames = 0
        self.flushes = 0
        self.device_drops = 0

    # ------------------------------------------------------------------ writer side (session loop)
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
            if self._ran_dry == item_id:
                self.underruns += 1
                self.growth_frames = min(self.growth_frames + ms_to_frames(GROW_MS), ms_to_frames(MAX_GROWTH_MS))
                self._underran = item_id
            self._ran_dry = None
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
                if self._underran != item_id:  # it played without a gap
                    self.growth_frames = max(0, self.growth_frames - ms_to_frames(DECAY_MS))
            if self._ran_dry == item_id:
                self._ran_dry = None  # it had simply ended: the done event came after its last frame played

    def request_flush(self) -> None:
        """Stop what was written so far, now: audio written after this call is a new reply and plays in full."""
        with self._lock:
            heard = self._timeline.position_at(time.monotonic(), self._handed)
            if self._written <= heard:
                self._open_item = None
                return  # nothing left to hear
            old = self._handed
            self._fade_from = old
            self._fade_left = 0 if self.device_flush else min(self._written - old, len(self._fade))
            for seg in self._segments:
                if seg.cut is None and seg.end > heard:
                    seg.cut = min(seg.end, max(seg.start, old + self._fade_left))
                    seg.settled = not self.device_flush
            self._handed = self._floor = self._written
            self._open_item = self._ran_dry = None
            self._primed = False
            self.flushes += 1
        if self.on_flush is not None:
            self.on_flush()

    def set_jitter_ms(self, jitter_ms: int) -> None:
        """A new setting starts from itself; the same one again (any settings change re-applies it) keeps
        what underruns taught."""
        if ms_to_frames(jitter_ms) != self.jitter_frames:
            self.jitter_frames = ms_to_frames(jitter_ms)
            self.growth_frames = 0

    @property
    def target_ms(self) -> int:
        """The jitter target now: the setting and what underruns added to it."""
        return frames_to_ms(self.jitter_frames + self.growth_frames)

    async def flushed(self, timeout: float = 0.25) -> None:
        """Wait (on the caller's loop) until the device has dropped what a flush stopped, so `played_ms` is final.

        Returns at once when nothing is pending (no device flush, or already done); gives up after `timeout`.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            if all(seg.settled for seg in self._segments):
                return
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.append((loop, future))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(future, timeout)

    # ------------------------------------------------------------------ device side (engine worker thread)
    def device_dropped(self, t_drop: float, *, replay: bool = False) -> None:
        """The device's queue was dropped at `t_drop` (monotonic): settle cuts at what the DAC had played.

        With `replay` (ducking), what was dropped but not flushed is handed to the device again, so the
        reply goes on from the frame the user heard last (now at the new gain).
        """
        with self._lock:
            heard = self._timeline.position_at(t_drop, self._handed)
            self._timeline.strike_after(t_drop)
            for seg in self._segments:
                if not seg.settled and seg.cut is not None:
                    seg.cut = min(seg.cut, max(seg.start, heard))
                    seg.settled = True
            if replay:
                back = max(heard, self._floor, self._written - len(self._ring))
                self._handed = min(self._handed, back)
            self.device_drops += 1
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed
                loop.call_soon_threadsafe(_resolve, future)

    # ------------------------------------------------------------------ reader side (audio callback)
    def would_start(self, now: float, start_frames: int = 0) -> bool:
        """The next `fill` (given the same `start_frames`) would start playing after silence, and the device
        has played all real audio."""
        with self._lock:
            if self._primed or self._fade_left:
                return False
            if not self._ready(self._written - self._handed, start_frames):
                return False
            return self._timeline.position_at(now, self._handed) >= self._handed

    def fill(self, out: npt.NDArray[np.int16], dac_time: float | None = None, start_frames: int = 0) -> int:
        """Fill `out` (one callback block); returns frames of real audio written. Never blocks for long.

        `dac_time` is when the block's first frame reaches the DAC (monotonic); None when unknown, and
        then the block counts as heard once handed. `start_frames`: what the device would take at once if
        a reply started in this block (its queue, on a stream restarted for the start), waited for on top
        of the target; 0 when no restart would come first.
        """
        n = len(out)
        when = NO_TIMING if dac_time is None else dac_time
        with self._lock:
            if self._fade_left:
                count = min(self._fade_left, n)
                self._copy_out(out[:count], self._fade_from)
                np.multiply(out[:count], self._fade[:count], out=self._scratch[:count], casting="unsafe")
                out[:count] = self._scratch[:count]
                out[count:] = 0
                self._timeline.record(when, self._fade_from, count)
                self._fade_left = 0
                return count
            available = self._written - self._handed
            if not self._primed:
                if self._ready(available, start_frames):
                    self._primed = True
                else:
                    out[:] = 0
                    self._timeline.record(when, self._handed, 0)
                    return 0
            if (n == BLOCK_FRAMES and self._open_item is not None and n <= available
                    and available < self.jitter_frames + self.growth_frames
                    and self._handed - self._segments[-1].start >= self._drift_after):
                # Running low mid-reply: the device's clock is outpacing the sender's; play it 1 frame slower.
                self._copy_out(self._stretch_source, self._handed)
                self._stretcher.stretch(self._stretch_source, out)
                self._timeline.record(when, self._handed, n - 1)
                self._handed += n - 1
                self.stretched_blocks += 1
                return n
            count = min(available, n)
            self._copy_out(out[:count], self._handed)
            out[count:] = 0
            self._timeline.record(when, self._handed, count)
            self._handed += count
            if count < n:
                self._primed = False
                self._ran_dry = self._open_item  # an underrun if more of it arrives (counted in `write`)
            return count

    def _ready(self, available: int, start_frames: int) -> bool:
        """Enough is buffered to start: the target and what the device will take at once, or the whole reply."""
        target = self.jitter_frames + self.growth_frames + start_frames
        return available >= target or (available > 0 and self._open_item is None)

    def _copy_out(self, out: npt.NDArray[np.int16], position: int) -> None:
        count = len(out)
        start = position % len(self._ring)
        first = min(count, len(self._ring) - start)
        out[:first] = self._ring[start : start + first]
        out[first:count] = self._ring[: count - first]

    # ------------------------------------------------------------------ accounting (any thread)
    def _segment(self, item_id: str) -> _Segment | None:
        for seg in reversed(self._segments):
            if seg.item_id == item_id:
                return seg
        return None

    def _heard_now(self) -> int:
        return self._timeline.position_at(time.monotonic(), self._handed)

    def received_ms(self, item_id: str) -> int:
        with self._lock:
            seg = self._segment(item_id)
            return frames_to_ms(seg.end - seg.start) if seg else 0

    def played_ms(self, item_id: str) -> int:
        """Audio of the item the user has heard (at the DAC), clamped to what arrived.

        After a flush: what was heard when the cut took effect. While the device's queue is still being
        dropped this is the DAC position now (a few ms short at most; `await flushed()` for the final value).
        """
        with self._lock:
            seg = self._segment(item_id)
            if seg is None:
                return 0
            position = seg.cut if seg.cut is not None and seg.settled else self._heard_now()
            if seg.cut is not None:
                position = min(position, seg.cut)
            return frames_to_ms(min(max(position - seg.start, 0), seg.end - seg.start))

    def is_playing(self, item_id: str | None = None) -> bool:
        """Whether audio (of `item_id`, if given) is still to be heard: buffered, or queued in the device."""
        with self._lock:
            heard = self._heard_now()
            if item_id is None:
                return self._written > max(heard, self._floor)
            seg = self._segment(item_id)
            return seg is not None and seg.cut is None and seg.end > heard

    @property
    def buffered_ms(self) -> int:
        with self._lock:
            return frames_to_ms(self._written - self._handed)

    @property
    def current_item(self) -> str | None:
        """The item the user is hearing, or will hear next."""
        with self._lock:
            heard = self._heard_now()
            for seg in self._segments:
                if seg.cut is None and seg.end > heard:
                    return seg.item_id
            return None


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
