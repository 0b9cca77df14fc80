"""An energy voice-activity detector that honours the service's turn-detection parameters.

Audio is judged in 10 ms frames against the shared threshold→dBFS gate (`app.audio.levels`). Times are on
the input timeline: milliseconds of audio appended since the session began, as the service reports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from app.audio import SAMPLE_RATE
from app.audio.levels import threshold_to_dbfs, to_dbfs

FRAME = SAMPLE_RATE // 100  # 10 ms


@dataclass(frozen=True)
class VadEvent:
    kind: str  # "start" | "stop"
    ms: int  # where the speech starts / stops, on the input timeline (what the service reports)
    at: int = 0  # the input position (samples) at which the VAD decided it
    onset_ms: int = 0  # where the speech itself began (a start's `ms` is earlier by the prefix padding)


class EnergyVad:
    def __init__(self) -> None:
        self.enabled = True
        self.gate_dbfs = threshold_to_dbfs(0.5)
        self.prefix_ms = 300
        self.silence_ms = 500
        self.min_speech_ms = 60
        self.position = 0  # samples seen
        self.in_speech = False
        self._speech_run = 0  # consecutive speech frames while idle
        self._silence_run = 0  # consecutive silent frames while in speech
        self._run_start = 0  # sample where the current speech run began
        self._last_speech_end = 0
        self._pending = np.zeros(0, dtype=np.int16)
        # End of utterance: when silence_ms is reached, `judge(speech_start, speech_end)` (samples) may say the
        # utterance sounds unfinished; the VAD then waits eou_timeout_ms longer for more speech.
        self.judge: Callable[[int, int], bool] | None = None
        self.eou_timeout_ms = 0
        self._extra_ms: int | None = None  # the extra wait decided for the current silence

    def configure(self, turn_detection: dict[str, Any] | None) -> None:
        """Apply a (validated) turn_detection object; None switches the VAD off (manual commit)."""
        if turn_detection is None:
            self.enabled = False
            self.in_speech = False
            return
        self.enabled = True
        self.gate_dbfs = threshold_to_dbfs(float(turn_detection.get("threshold", 0.5)))
        self.prefix_ms = int(turn_detection.get("prefix_padding_ms", 300))
        self.silence_ms = int(turn_detection.get("silence_duration_ms", 500))
        speech = turn_detection.get("speech_duration_ms")
        self.min_speech_ms = int(speech) if speech is not None else 60
        eou = turn_detection.get("end_of_utterance_detection")
        if isinstance(eou, dict):
            legacy = eou.get("timeout")  # 2025-05-01-preview: seconds
            self.eou_timeout_ms = int(eou.get("timeout_ms", float(legacy) * 1000 if legacy is not None else 1000))
        else:
            self.eou_timeout_ms = 0

    def feed(self, pcm: npt.NDArray[np.int16]) -> list[VadEvent]:
        """Advance the timeline by `pcm`; return the speech starts and stops it contains."""
        data = np.concatenate([self._pending, pcm]) if self._pending.size else pcm
        usable = len(data) - len(data) % FRAME
        self._pending = data[usable:].copy()
        found: list[VadEvent] = []
        if usable == 0:
            return found
        frames = data[:usable].astype(np.float32).reshape(-1, FRAME)
        rms = np.sqrt(np.mean(frames * frames, axis=1)) / 32768.0
        for level in rms:
            start = self.position
            self.position += FRAME
            if not self.enabled:
                continue
            loud = to_dbfs(float(level)) > self.gate_dbfs
            if not self.in_speech:
                if loud:
                    if self._speech_run == 0:
                        self._run_start = start
                    self._speech_run += 1
                    if self._speech_run * 10 >= self.min_speech_ms:
                        self.in_speech = True
                        self._silence_run = 0
                        self._last_speech_end = self.position
                        onset = max(0, self._run_start * 1000 // SAMPLE_RATE - self.prefix_ms)
                        found.append(VadEvent("start", onset, self.position, self._run_start * 1000 // SAMPLE_RATE))
                else:
                    self._speech_run = 0
            elif loud:
                self._silence_run = 0
                self._last_speech_end = self.position
                self._extra_ms = None
            else:
                self._silence_run += 1
                waited = self._silence_run * 10
                if waited >= self.silence_ms and self._extra_ms is None:
                    unfinished = self.eou_timeout_ms > 0 and self.judge is not None \
                        and not self.judge(self._run_start, self._last_speech_end)
                    self._extra_ms = self.eou_timeout_ms if unfinished else 0
                if waited >= self.silence_ms + (self._extra_ms or 0):
                    self.in_speech = False
                    self._speech_run = 0
                    self._extra_ms = None
                    found.append(VadEvent("stop", self._last_speech_end * 1000 // SAMPLE_RATE, self.position))
        return found

    @property
    def speech_ms(self) -> int:
        """How long the current speech has lasted (0 outside speech)."""
        if not self.in_speech:
            return 0
        return (self._last_speech_end - self._run_start) * 1000 // SAMPLE_RATE

    @property
    def position_ms(self) -> int:
        return self.position * 1000 // SAMPLE_RATE
