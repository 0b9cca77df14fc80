"""Local speech: when our own microphone heard the user start and stop, before the service says so.

The audio engine detects it (against the playback signal, so the reply leaking into the microphone is
not taken for the user) and hands each event to the session's loop with `call_soon_threadsafe`; the
session needs only the attributes in `LocalSpeechEvent`. Until an engine delivers such events, the
session derives them itself from the microphone blocks it is handed (`BlockSpeechDetector`): a plain
energy gate, good enough for the timeline on headphones and on the virtual devices, blind to echo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from app.audio import SAMPLE_RATE

SpeechKind = Literal["start", "stop"]


class LocalSpeechEvent(Protocol):
    """A local speech onset or end (the audio engine's `LocalSpeech` has these attributes)."""

    @property
    def kind(self) -> str: ...  # "start" | "stop"
    @property
    def at(self) -> float: ...  # time.monotonic() when the speech began (start) or was last heard (stop)
    @property
    def during_playback(self) -> bool: ...
    @property
    def ducked(self) -> bool: ...


@dataclass(frozen=True)
class DerivedSpeech:
    """A `LocalSpeechEvent` derived by the session from the microphone blocks (no playback knowledge)."""

    kind: SpeechKind
    at: float
    during_playback: bool = False
    ducked: bool = False


class BlockSpeechDetector:
    """Energy onset/end detection over the blocks the session is handed (10 or 20 ms).

    Speech starts at the first of two consecutive 10 ms windows above `gate_dbfs` and ends when nothing
    was above it for `hangover_s`; `at` is when the loud part began or was last heard, on the stream's own
    clock: blocks reach the session late by varying amounts (a busy loop holds them back) but never early,
    so the least delayed block anchors the clock and the samples counted since place every other one.
    """

    WINDOW = SAMPLE_RATE // 100  # 10 ms
    RESYNC_S = 1.0  # a block this much later than the clock says: a gap in the stream (mute, a reopened device)
    CREEP_S = 0.0002  # per block: the anchor follows a slow clock drift (10 ms a second at most)

    def __init__(self, gate_dbfs: float = -40.0, hangover_s: float = 0.3) -> None:
        self.gate = (10.0 ** (gate_dbfs / 20.0) * 32768.0) ** 2  # mean square, int16 units
        self.hangover_s = hangover_s
        self.speaking = False
        self._last_loud = 0.0
        self._previous_loud = False
        self._anchor: float | None = None  # monotonic time of the stream's first sample, as estimated
        self._stream_s = 0.0  # audio seen since the anchor

    def feed(self, block: bytes, arrived_at: float) -> DerivedSpeech | None:
        samples = np.frombuffer(block, dtype="<i2")
        windows = len(samples) // self.WINDOW
        if windows == 0:
            return None
        frames = samples[: windows * self.WINDOW].astype(np.float32).reshape(windows, self.WINDOW)
        loud = np.mean(frames * frames, axis=1) > self.gate
        block_start = self._block_start(arrived_at, len(samples) / SAMPLE_RATE)
        block_end = block_start + len(samples) / SAMPLE_RATE
        if loud.any():
            self._last_loud = block_start + (int(np.flatnonzero(loud)[-1]) + 1) * self.WINDOW / SAMPLE_RATE
        onset = self._onset(loud)
        self._previous_loud = bool(loud[-1])
        if not self.speaking:
            if onset is None:
                return None
            self.speaking = True
            return DerivedSpeech("start", block_start + onset * self.WINDOW / SAMPLE_RATE)
        if block_end - self._last_loud >= self.hangover_s:
            self.speaking = False
            return DerivedSpeech("stop", self._last_loud)
        return None

    def _block_start(self, arrived_at: float, seconds: float) -> float:
        candidate = arrived_at - seconds - self._stream_s  # the stream's start, if this block was not delayed
        if self._anchor is None or candidate < self._anchor or candidate - self._anchor > self.RESYNC_S:
            self._anchor, self._stream_s = arrived_at - seconds, 0.0
        else:
            self._anchor += min(candidate - self._anchor, self.CREEP_S)
        start = self._anchor + self._stream_s
        self._stream_s += seconds
        return start

    def _onset(self, loud: np.ndarray) -> int | None:
        """The first window of two loud ones in a row (a click is not speech); -1: the previous block's last."""
        if self._previous_loud and loud[0]:
            return -1
        pairs = np.flatnonzero(loud[:-1] & loud[1:])
        return int(pairs[0]) if pairs.size else None
