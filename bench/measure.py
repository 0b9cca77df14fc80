"""Shared pieces for the benchmarks: probe processes, recordings on a monotonic timeline, statistics."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.audio import SAMPLE_RATE

ROOT = Path(__file__).resolve().parents[1]  # probes run as `python -m bench.probe` from the repository
LOUD = 300  # |sample| above this is "sound" (the virtual devices are bit-exact: silence is 0)


def summary(name: str, values: list[float], unit: str, goal: str | None = None,
            goal_met: bool | None = None, **extra: Any) -> dict[str, Any]:
    ordered = sorted(float(v) for v in values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] if ordered else float("nan")
    return {"benchmark": name, "unit": unit, "runs": len(values),
            "median": round(statistics.median(ordered), 2) if ordered else None, "p95": round(p95, 2),
            "min": round(ordered[0], 2) if ordered else None, "max": round(ordered[-1], 2) if ordered else None,
            "goal": goal, "goal_met": None if goal_met is None else bool(goal_met), **extra}


@dataclass
class Recording:
    samples: npt.NDArray[np.int16]
    stamps: npt.NDArray[np.float64]
    block: int

    def time_of(self, index: int) -> float:
        return float(self.stamps[index // self.block]) + (index % self.block) / SAMPLE_RATE

    def index_at(self, t: float) -> int:
        block = int(np.searchsorted(self.stamps, t, side="right")) - 1
        block = max(block, 0)
        return block * self.block + max(0, int((t - self.stamps[block]) * SAMPLE_RATE))

    def first_loud(self, after: float, before: float | None = None) -> float | None:
        start = self.index_at(after)
        end = self.index_at(before) if before is not None else len(self.samples)
        loud = np.flatnonzero(np.abs(self.samples[start:end].astype(np.int32)) > LOUD)
        return self.time_of(start + int(loud[0])) if loud.size else None

    def last_loud(self, after: float, before: float | None = None) -> float | None:
        start = self.index_at(after)
        end = self.index_at(before) if before is not None else len(self.samples)
        loud = np.flatnonzero(np.abs(self.samples[start:end].astype(np.int32)) > LOUD)
        return self.time_of(start + int(loud[-1])) if loud.size else None


def probe_env(**pulse: str) -> dict[str, str]:
    return {**os.environ, **pulse}


@dataclass
class Recorder:
    """`bench.probe record` in its own process, on a chosen PulseAudio source."""

    source: str
    seconds: float
    path: Path
    proc: asyncio.subprocess.Process | None = field(default=None)

    async def __aenter__(self) -> Recorder:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.probe", "record", str(self.seconds), str(self.path),
            stdout=asyncio.subprocess.PIPE, env=probe_env(PULSE_SOURCE=self.source), cwd=ROOT)
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 20)
        assert line.startswith(b"READY"), line
        await asyncio.sleep(0.3)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.proc is not None
        await asyncio.wait_for(self.proc.wait(), self.seconds + 20)

    def load(self) -> Recording:
        data = np.load(self.path)
        return Recording(data["samples"], data["stamps"], int(data["block"]))


async def play(wav: Path, sink: str) -> float:
    """Play a WAV on a PulseAudio sink from its own process; when its first loud sample was handed over."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.probe", "play", str(wav), cwd=ROOT,
                                                stdout=asyncio.subprocess.PIPE, env=probe_env(PULSE_SINK=sink))
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    for line in out.decode().splitlines():
        if line.startswith("STARTED"):
            return float(line.split()[1])
    raise RuntimeError(f"the player printed no start time: {out!r}")


def onset_in(samples: npt.NDArray[np.int16]) -> int:
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > LOUD)
    return int(loud[0]) if loud.size else 0
