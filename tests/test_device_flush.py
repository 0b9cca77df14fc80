"""Flushes at the device, judged from what the speaker played (a time-stamped recording of vspeaker.monitor).

The replies are noise that is never zero, and the virtual devices are bit-exact, so the recording says to
the sample how much of a reply was heard and when its last sample played.
"""

from __future__ import annotations

import asyncio
import random
import time

import numpy as np

from app.audio import SAMPLE_RATE
from app.audio.engine import AudioEngine
from tests.audio_harness import EngineRig, TimedRecorder, heard_prefix, locate, noise
from tests.helpers import wait_for

BLOCK_MS = 20


async def test_a_flush_silences_the_speaker_at_once_and_played_ms_is_what_was_heard(audio_devices: None) -> None:
    rnd = random.Random(5)
    recorder = TimedRecorder()
    await recorder.wait_started()
    cuts: list[tuple[np.ndarray, float, int, int]] = []
    engine = AudioEngine(jitter_ms=80)
    async with EngineRig(engine):
        for run in range(6):
            reply = noise(2.5, seed=40 + run)
            engine.playback.write(f"r{run}", reply)
            engine.playback.end_item(f"r{run}")
            await asyncio.sleep(rnd.uniform(0.3, 1.2))
            requested = time.monotonic()
            engine.playback.request_flush()
            await engine.playback.flushed()
            playback = engine.playback
            cuts.append((reply, requested, playback.played_ms(f"r{run}"), playback.received_ms(f"r{run}")))
            await asyncio.sleep(0.3)
    recording = recorder.stop()
    starts: list[int] = []
    for reply, *_ in cuts:
        starts.append(locate(reply, recording.samples, starts[-1] + 1 if starts else 0))
    assert -1 not in starts, f"a reply never reached the speaker: {starts}"
    starts.append(len(recording.samples))
    report = []
    for k, (reply, requested, played_ms, received_ms) in enumerate(cuts):
        heard, last = heard_prefix(reply, recording.samples, starts[k], starts[k + 1])
        silent_after_ms = (recording.time_of(last) - requested) * 1000
        error_ms = played_ms - heard * 1000 / SAMPLE_RATE
        report.append((round(silent_after_ms, 1), round(error_ms, 1)))
        assert played_ms <= received_ms
    print("silent after the request (ms), played_ms error (ms):", report)  # noqa: T201
    assert all(silent <= 10 + BLOCK_MS for silent, _ in report), report
    assert all(abs(error) <= 10 for _, error in report), report
    assert engine.playback.device_drops >= len(cuts)


async def test_a_new_reply_written_right_after_a_flush_is_heard_in_full(audio_devices: None) -> None:
    recorder = TimedRecorder()
    await recorder.wait_started()
    old, new = noise(3.0, seed=1), noise(1.5, seed=2)
    engine = AudioEngine(jitter_ms=80)
    async with EngineRig(engine):
        engine.playback.write("old", old)
        engine.playback.end_item("old")
        await asyncio.sleep(0.6)
        engine.playback.request_flush()  # `i` or send_text: the next reply's audio follows at once
        engine.playback.write("new", new)
        engine.playback.end_item("new")
        await wait_for(lambda: not engine.playback.is_playing(), timeout=10)
        await asyncio.sleep(0.2)
    recording = recorder.stop()
    at_old, at_new = locate(old, recording.samples), locate(new, recording.samples)
    assert at_old >= 0 and at_new > at_old
    heard_old, _ = heard_prefix(old, recording.samples, at_old, at_new)
    assert heard_old < len(old) // 2
    assert np.array_equal(recording.samples[at_new : at_new + len(new)], new)  # every sample, in order
    assert engine.playback.played_ms("new") == engine.playback.received_ms("new") == 1500
