"""Local barge-in on the virtual devices: the engine lowers a playing reply when the microphone hears speech.

No session: the test writes the reply as the session would and plays speech into the virtual microphone
(`vmicsink`). What counts is what the speaker played (a time-stamped recording of `vspeaker.monitor`)
against when the speech reached the microphone (a recording of `vmicsink.monitor`).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import numpy as np
import pytest

from app.audio import SAMPLE_RATE
from app.audio.engine import AudioEngine
from app.audio.wav import read_wav
from tests.audio_harness import (
    EngineRig,
    TimedRecorder,
    continuation,
    exact_prefix,
    levels_db,
    locate,
    noise,
    play_into_mic_at,
    speaker_leak,
)
from tests.helpers import silence, spoken_wav, wait_for


def _onset(recording: np.ndarray, after: int = 0) -> int:
    loud = np.flatnonzero(np.abs(recording[after:].astype(np.int32)) > 300)
    assert loud.size, "nothing reached the microphone"
    return after + int(loud[0])


async def test_speech_over_a_reply_lowers_it_20_db_within_60_ms(audio_devices: None, tmp_path: Path) -> None:
    user = read_wav(spoken_wav(tmp_path / "user.wav", "wait, stop"))
    speaker, mic = TimedRecorder(), TimedRecorder("vmicsink.monitor")
    await speaker.wait_started()
    await mic.wait_started()
    engine = AudioEngine(jitter_ms=80)
    reply = noise(5.0, level=0.1, seed=11)
    async with EngineRig(engine) as rig:
        engine.playback.write("reply", reply)
        engine.playback.end_item("reply")
        await asyncio.sleep(1.2)
        await play_into_mic_at(np.concatenate([silence(0.2), user]), tmp_path / "into-mic.wav")
        await wait_for(lambda: any(e.kind == "start" for e in rig.speech), timeout=5)
        await asyncio.sleep(0.2)
    played, heard = speaker.stop(), mic.stop()
    onset_t = heard.time_of(_onset(heard.samples))
    start = next(e for e in rig.speech if e.kind == "start")
    assert start.during_playback and start.ducked and engine.ducker.ducks == 1
    assert -0.01 <= start.at - onset_t <= 0.04, start.at - onset_t  # the onset, as the microphone had it
    first = played.index_at(onset_t - 0.3)
    levels = levels_db(played.samples[first : first + SAMPLE_RATE])
    before = float(np.median(levels[:50]))  # the 250 ms before the speech
    down = [k for k in range(60, len(levels)) if levels[k] <= before - 20]
    assert down, "the reply was never lowered"
    duck_ms = (down[0] - 60 + 1) * 5
    print(f"reply level {before:.1f} dBFS, 20 dB down {duck_ms} ms after the speech reached the mic")  # noqa: T201
    assert duck_ms <= 60
    assert np.all(levels[down[0] : down[0] + 60] <= before - 20)  # and it stays down (300 ms)


async def test_a_cough_without_confirmation_ducks_then_restores_and_the_reply_is_heard_in_full(
        audio_devices: None, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="app.audio.engine")
    speaker = TimedRecorder()
    await speaker.wait_started()
    engine = AudioEngine(jitter_ms=80)
    reply = noise(4.0, level=0.1, seed=12)
    async with EngineRig(engine) as rig:
        engine.playback.write("reply", reply)
        engine.playback.end_item("reply")
        await asyncio.sleep(1.0)
        await play_into_mic_at(np.concatenate([silence(0.1), noise(0.15, level=0.3, seed=13)]), tmp_path / "c.wav")
        await wait_for(lambda: engine.ducked, timeout=5)
        await wait_for(lambda: not engine.ducked, timeout=5)  # nobody confirmed: the volume comes back
        await wait_for(lambda: not engine.playback.is_playing(), timeout=10)
        await asyncio.sleep(0.2)
    played = speaker.stop().samples
    assert engine.ducker.ducks == 1 and engine.ducker.restores == 1 and rig.speech[0].ducked
    assert len([r for r in caplog.records if r.getMessage().startswith("duck: speech onset")]) == 1  # traceable
    lag = locate(reply, played)
    cut = exact_prefix(reply, played, lag)  # full volume until the duck
    resumed = lag + cut + int(np.flatnonzero(played[lag + cut :])[0])
    went_on_from = continuation(reply, played, resumed, near=cut)
    assert abs(went_on_from - cut) <= SAMPLE_RATE // 100, (cut, went_on_from)  # nothing lost, nothing repeated
    tail = reply[-SAMPLE_RATE:]
    at_tail = locate(tail, played, resumed)
    assert at_tail > resumed and np.array_equal(played[at_tail : at_tail + len(tail)], tail)  # back at full volume
    span = at_tail - resumed
    gain = levels_db(played[resumed:at_tail]) - levels_db(reply[went_on_from : went_on_from + span])
    linear = 10 ** (gain[gain > -40] / 20)  # the gain the reply was played at, 5 ms at a time
    rise = np.flatnonzero(linear >= 0.9)[0] - np.flatnonzero(linear <= 0.1)[-1]
    assert gain[0] <= -20 and abs(gain[-1]) <= 0.5
    assert np.diff(linear).max() <= 0.05 and rise * 5 >= 100, (np.diff(linear).max(), rise)  # a ramp, no click


async def test_the_reply_leaking_into_the_microphone_never_ducks_it(audio_devices: None, tmp_path: Path) -> None:
    reply = read_wav(spoken_wav(tmp_path / "reply.wav", "This is the assistant talking for a while, with pauses. "
                                "It leaks from the speaker into the microphone, as on a laptop without headphones."))
    engine = AudioEngine(jitter_ms=80)
    for attenuation_db in (0.0, 12.0):
        with speaker_leak(attenuation_db):
            async with EngineRig(engine) as rig:
                for turn in range(2):
                    engine.playback.write(f"t{turn}", reply)
                    engine.playback.end_item(f"t{turn}")
                    await wait_for(lambda: not engine.playback.is_playing(), timeout=30)
                    await asyncio.sleep(0.3)
        assert engine.ducker.ducks == 0 and not rig.speech, (attenuation_db, rig.speech)
        assert engine.detector.echo_delay_bins is not None  # it found the echo, and ignored it


async def test_speech_with_nothing_playing_is_reported_for_the_timeline(audio_devices: None, tmp_path: Path) -> None:
    user = read_wav(spoken_wav(tmp_path / "user.wav", "hello there"))
    engine = AudioEngine(jitter_ms=80)
    async with EngineRig(engine) as rig:
        await asyncio.sleep(0.3)
        await play_into_mic_at(np.concatenate([silence(0.2), user]), tmp_path / "into-mic.wav")
        await wait_for(lambda: [e.kind for e in rig.speech] == ["start", "stop"], timeout=5)
    start, stop = rig.speech
    assert not start.during_playback and not start.ducked and engine.ducker.ducks == 0
    assert 0.3 < stop.at - start.at < len(user) / SAMPLE_RATE + 0.1
