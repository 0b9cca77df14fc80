"""Tuning on real, clocked audio: the real App under Pilot, the emulator, the virtual sound devices.

Speech is played into `vmicsink` (the app's default microphone). Push-to-talk must make a turn of it with a
commit and a response and no VAD events (checked at the emulator); the timeline must show the turn's
numbers, and its medians must move when the silence window does (the emulator's VAD honours it).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from app.audio.engine import AudioEngine
from app.config import load_settings
from app.emulator.server import EmulatorOptions, EmulatorServer
from app.services import Services
from app.tui import VoiceLiveApp
from app.voicelive.timeline import TurnTiming
from app.widgets.turn import AssistantTurn, UserTurn
from tests.helpers import play_into_mic, spoken_wav, wait_for
from tests.ui_harness import connected

log = logging.getLogger(__name__)
SPEECH = "Hello there this is a test of the voice client"  # no commas: espeak would pause at them


def audio_app(tmp_path: Path, flags: dict[tuple[str, ...], Any]) -> tuple[VoiceLiveApp, EmulatorServer, AudioEngine]:
    settings = load_settings({("connection", "local"): True, **flags}, environ={})
    emulator = EmulatorServer(options=EmulatorOptions(speed=4.0))
    engine = AudioEngine(jitter_ms=80)
    app = VoiceLiveApp(settings, Services(engine=engine, emulator=emulator,
                                          transcript_dir=str(tmp_path / "transcripts")))
    return app, emulator, engine


def spoken_turns(app: VoiceLiveApp) -> list[TurnTiming]:
    timeline = app.main.timeline
    return list(timeline.turns) if timeline else []


async def test_push_to_talk_makes_a_turn_with_commit_and_response_and_no_vad(audio_devices: None,
                                                                              tmp_path: Path) -> None:
    app, emulator, engine = audio_app(tmp_path, {("push_to_talk",): True})
    speech = spoken_wav(tmp_path / "speech.wav", SPEECH)
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(app)
        await wait_for(lambda: engine.active, timeout=10)
        assert "push-to-talk ✓ │ idle (space talks)" in str(app.main.status.render())
        await pilot.press("space")
        await wait_for(lambda: app.main.status.talk == "talking" and app.main.mic_meter.talking, timeout=5)
        await play_into_mic(speech)
        await pilot.press("space")
        await wait_for(lambda: any(not t.has_class("-streaming") for t in app.main.query(AssistantTurn)), 20)
        assert app.main.status.talk == "idle"
        received = [e["type"] for e in emulator.sessions[-1].received if e["type"] != "session.update"]
        clear, commit = received.index("input_audio_buffer.clear"), received.index("input_audio_buffer.commit")
        assert clear < commit and received[commit + 1] == "response.create"
        assert received[clear + 1 : commit] == ["input_audio_buffer.append"] * (commit - clear - 1)
        assert commit - clear - 1 >= 50 * 2  # the whole utterance (over 2 s of 20 ms blocks) went out
        assert "input_audio_buffer.append" not in received[:clear]  # nothing before the key went down
        sent = [e["type"] for _, e in emulator.sessions[-1].sent]
        assert "input_audio_buffer.committed" in sent and "response.done" in sent
        assert not [k for k in sent if k.startswith("input_audio_buffer.speech_")]
        users = list(app.main.query(UserTurn))
        assert users and "s of speech" in str(users[0].query_one(".turn-body").render())
        await wait_for(lambda: spoken_turns(app) and spoken_turns(app)[-1].end_of_turn_ms is not None, 10)
        turn = spoken_turns(app)[-1]
        log.info("push-to-talk turn: %s", turn.describe())
        assert turn.label == "push-to-talk" and turn.commit_ms is not None


async def test_the_timeline_times_a_spoken_turn_and_its_medians_follow_the_silence_window(
        audio_devices: None, tmp_path: Path) -> None:
    app, emulator, engine = audio_app(tmp_path, {("session", "turn_detection", "silence_duration_ms"): 300})
    speech = spoken_wav(tmp_path / "speech.wav", SPEECH)

    async def one_turn(count: int) -> TurnTiming:
        await play_into_mic(speech)
        await wait_for(lambda: len(spoken_turns(app)) >= count
                       and spoken_turns(app)[-1].end_of_turn_ms is not None, timeout=20)
        await wait_for(lambda: not engine.playback.is_playing(), timeout=20)
        await pilot.pause(0.5)
        return spoken_turns(app)[-1]

    async with app.run_test(size=(100, 30)) as pilot:
        await connected(app)
        await wait_for(lambda: engine.active, timeout=10)
        short = await one_turn(1)
        log.info("silence 300 ms: %s", short.describe())
        assert short.detection_ms is not None and short.stop_ms is not None and short.end_of_turn_ms is not None
        # The emulator waits out the 300 ms window before it says stopped; the end of speech is estimated from
        # when mic blocks reached the session, which a loaded machine delays by a few tens of ms.
        assert short.stop_ms >= 200
        strip = str(app.main.strip.render())
        assert f"eot {short.end_of_turn_ms}" in strip and "det " in strip
        await pilot.press("d")
        reply = app.main.query(AssistantTurn)[-1]
        assert "reply audible" in reply.timing_text and "detected +" in reply.timing_text

        await pilot.press(*["right_curly_bracket"] * 8)  # 300 → 1100 ms of silence ends a turn
        await wait_for(lambda: emulator.sessions[-1].session["turn_detection"]["silence_duration_ms"] == 1100, 10)
        await wait_for(lambda: not app.main.status.pending, timeout=5)
        long = await one_turn(2)
        log.info("silence 1100 ms: %s", long.describe())
        timeline = app.main.timeline
        assert timeline is not None
        before, after = (s for s in timeline.summaries if s.turns)
        assert (before.label, after.label) == ("semantic 0.30 300ms", "semantic 0.30 1100ms")
        assert before.end_of_turn_ms is not None and after.end_of_turn_ms is not None
        assert after.end_of_turn_ms - before.end_of_turn_ms >= 500  # 800 ms more silence, most of it visible
        assert after.stop_ms is not None and before.stop_ms is not None and after.stop_ms - before.stop_ms >= 500
        assert f"eot {after.end_of_turn_ms}" in str(app.main.strip.render())
