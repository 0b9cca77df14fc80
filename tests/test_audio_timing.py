"""What keeps the audio on time on a busy machine: the callbacks' priority, and the jitter margin a reply
starts with. Judged from outside the engine: the kernel's view of its threads, the speaker's recording."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import numpy as np
import pytest

from app.audio import SAMPLE_RATE, ms_to_frames
from app.audio.engine import AudioEngine
from tests.audio_harness import EngineRig, TimedRecorder, gaps_in, noise
from tests.helpers import may_run_realtime, wait_for

SCHED_FIFO = 1


def _fifo_threads() -> int:
    """This process's threads the kernel schedules as SCHED_FIFO (field 41 of /proc/<pid>/task/<tid>/stat)."""
    count = 0
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue  # the thread ended meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": field 3 onwards
        count += int(fields[41 - 3]) == SCHED_FIFO
    return count


async def test_the_callback_threads_run_at_realtime_priority_where_the_os_allows(audio_devices: None) -> None:
    allowed = may_run_realtime()
    if not allowed and not os.environ.get("CI"):
        pytest.skip("this process may not use real-time scheduling (root, CAP_SYS_NICE or an rtprio limit)")
    before = _fifo_threads()
    engine = AudioEngine(jitter_ms=80)
    async with EngineRig(engine) as rig:
        await wait_for(lambda: len(rig.mic) >= 10, timeout=5)  # both callbacks have run
        engine.playback.write("r", noise(0.2))
        engine.playback.end_item("r")
        await wait_for(lambda: not engine.playback.is_playing(), timeout=5)
        during = _fifo_threads()
        claimed = dict(engine.realtime)
    after = _fifo_threads()
    print(f"real-time allowed: {allowed}; SCHED_FIFO threads before {before}, during {during}, after {after}")  # noqa: T201
    if allowed:
        assert claimed == {"output": True, "input": True}
        assert during - before >= 3  # both callback threads and the device worker, as the kernel sees them
        assert during - after >= 2  # the callback threads ended with the streams
    else:  # not permitted: the engine runs as before, at normal priority
        assert claimed == {"output": False, "input": False}
        assert during == before


async def test_a_reply_paced_in_real_time_keeps_its_whole_jitter_margin_after_it_starts(audio_devices: None) -> None:
    """20 ms deltas at real time, one of them LATE_MS late (those after it come with it): within the 80 ms
    target, so it must be heard without a gap. When the start took the device's queue (40 ms) out of the
    jitter buffer, a delta 50 ms late was a gap every time."""
    late_ms = 50
    recorder = TimedRecorder()
    await recorder.wait_started()
    engine = AudioEngine(jitter_ms=80)
    reply = noise(1.2, seed=11)
    chunk = ms_to_frames(20)
    async with EngineRig(engine):
        await asyncio.sleep(0.3)  # the output stream runs, its queue full of silence
        t0 = time.monotonic()
        due = t0
        for k, start in enumerate(range(0, len(reply), chunk)):
            due = max(due, t0 + k * 0.02 + (late_ms / 1000 if k == 12 else 0.0))
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            engine.playback.write("r", reply[start : start + chunk])
        engine.playback.end_item("r")
        await wait_for(lambda: not engine.playback.is_playing(), timeout=5)
        await asyncio.sleep(0.1)
    recording = recorder.stop()
    gaps = gaps_in(recording.samples)
    heard = np.count_nonzero(recording.samples)
    print(f"gaps heard: {gaps}; jitter-buffer underruns {engine.playback.underruns}")  # noqa: T201
    assert heard >= len(reply) - SAMPLE_RATE // 100  # the reply was heard (less a restart's lost frames)
    assert gaps == []
