"""End to end on real, clocked audio: the real App under Pilot, the emulator, the virtual sound devices.

A spoken WAV is played into `vmicsink` (the app's default microphone); what the app plays is recorded
from `vspeaker.monitor` and compared with what the emulator sent.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from app.audio import SAMPLE_RATE
from app.audio.engine import AudioEngine
from app.config import load_settings
from app.emulator.server import EmulatorOptions, EmulatorServer
from app.services import Services
from app.tui import VoiceLiveApp
from app.widgets.status_bar import StatusBar
from app.widgets.turn import AssistantTurn, UserTurn
from tests.helpers import Recorder, correlation, play_into_mic, spoken_wav, wait_for

log = logging.getLogger(__name__)


def _audible_end(recording: np.ndarray) -> int:
    loud = np.flatnonzero(np.abs(recording.astype(np.int32)) > 8)
    return int(loud[-1]) + 1 if loud.size else 0


async def test_talk_hear_and_interrupt_on_real_audio(audio_devices: None, tmp_path: Path) -> None:
    # espeak pauses at commas; a 700 ms silence keeps the sentence one turn (the default 200 ms splits it).
    settings = load_settings({("connection", "local"): True, ("session", "turn_detection", "silence_duration_ms"): 700})
    emulator = EmulatorServer(options=EmulatorOptions(speed=4.0))
    engine = AudioEngine(jitter_ms=80)
    app = VoiceLiveApp(settings, Services(engine=engine, emulator=emulator))
    speech = spoken_wav(tmp_path / "speech.wav")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: app.screen.query(StatusBar) and app.main.status.state == "connected", timeout=15)
        await wait_for(lambda: engine.active, timeout=10)

        # Turn 1: speak, hear the parrot reply in full.
        recorder = Recorder(tmp_path / "turn1.wav")
        await play_into_mic(speech)
        await wait_for(lambda: any(not t.has_class("-streaming") for t in app.screen.query(AssistantTurn)), 20)
        await wait_for(lambda: not engine.playback.is_playing(), timeout=20)
        await pilot.pause(0.3)
        recording = recorder.stop()
        users = list(app.screen.query(UserTurn))
        assert users and "s of speech" in str(users[0].query_one(".turn-body").render())
        reply = emulator.sessions[-1].replies[next(iter(emulator.sessions[-1].replies))]
        sent = np.frombuffer(bytes(reply.audio), dtype="<i2")
        lag, score = correlation(sent, recording)
        log.info("turn 1: reply of %d ms found at %d ms in the recording, correlation %.4f",
                 len(sent) * 1000 // SAMPLE_RATE, lag * 1000 // SAMPLE_RATE, score)
        assert score > 0.99
        # Each 10 ms device block left as it was captured (two gathered into one held the first back, and a
        # late callback then made a 30-40 ms gap on the wire), as the emulator counted the samples per append.
        per_append = np.diff([samples for _, samples in emulator.sessions[-1].input_arrivals])
        assert int(np.median(per_append)) == SAMPLE_RATE // 100

        # Turn 2: speak again, press i while the reply plays: output stops and is truncated where it stopped.
        recorder = Recorder(tmp_path / "turn2.wav")
        await play_into_mic(speech)
        await wait_for(lambda: len(app.screen.query(AssistantTurn)) == 2, timeout=20)
        item = app.screen.query(AssistantTurn)[-1].item_id
        await wait_for(lambda: engine.playback.played_ms(item) >= 500, timeout=10)
        played_at_press = engine.playback.played_ms(item)
        await pilot.press("i")
        await wait_for(lambda: app.screen.query(AssistantTurn)[-1].has_class("-interrupted"), timeout=5)
        await pilot.pause(0.5)
        recording = recorder.stop()
        reply = emulator.sessions[-1].replies[item]
        await wait_for(lambda: reply.truncated_at_ms is not None, timeout=5)
        sent = np.frombuffer(bytes(reply.audio), dtype="<i2")
        lag, score = correlation(sent[: played_at_press * SAMPLE_RATE // 1000], recording)
        audible_ms = (_audible_end(recording) - lag) * 1000 // SAMPLE_RATE
        stop_ms = audible_ms - played_at_press
        log.info("interrupt: %d ms of reply audible, %d ms after the key (handed to the device at press: %d ms); "
                 "truncate audio_end_ms %s; reply %d ms", audible_ms, stop_ms, played_at_press,
                 reply.truncated_at_ms, len(sent) * 1000 // SAMPLE_RATE)
        assert score > 0.99
        assert audible_ms < len(sent) * 1000 // SAMPLE_RATE - 500  # it really stopped early
        assert stop_ms <= 150  # a few 20 ms blocks, not the rest of the reply
        assert reply.truncated_at_ms is not None and abs(reply.truncated_at_ms - audible_ms) <= 40
        quit_started = time.perf_counter()
        await pilot.press("q")
    quit_ms = (time.perf_counter() - quit_started) * 1000
    log.info("quit while audio streams: %.0f ms from the key to the app gone", quit_ms)
    assert app.return_code == 0
    assert not engine.active
