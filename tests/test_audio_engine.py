"""The audio engine on real devices and without them: integrity both ways, files, failures, resampling."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from app.audio import BLOCK_FRAMES, SAMPLE_RATE
from app.audio.engine import AudioEngine
from app.audio.rate_adapter import BlockResampler
from app.audio.wav import read_wav, write_wav
from app.emulator.server import EmulatorServer
from app.voicelive import notices as nt
from tests.helpers import Recorder, correlation, play_into_mic, silence, speechlike, spoken_wav, wait_for
from tests.session_harness import SessionHarness


def _received(server: EmulatorServer) -> np.ndarray:
    return np.frombuffer(bytes(server.sessions[-1].input_audio), dtype="<i2")


async def _engine_session(server: EmulatorServer, engine: AudioEngine) -> SessionHarness:
    harness = SessionHarness(server)
    await harness.__aenter__()
    await harness.speaker.stop()  # the real output device drains the buffer, not the software speaker
    harness.session.attach_audio(engine)
    engine.start(asyncio.get_running_loop(), harness.session.submit_audio)
    return harness


async def test_uplink_integrity_and_downlink_without_gaps(audio_devices: None, emulator: EmulatorServer,
                                                          tmp_path: Path) -> None:
    engine = AudioEngine(jitter_ms=80)
    h = await _engine_session(emulator, engine)
    try:
        speech = read_wav(spoken_wav(tmp_path / "speech.wav"))
        recorder = Recorder(tmp_path / "out.wav")
        await play_into_mic(tmp_path / "speech.wav")
        await wait_for(lambda: h.of(nt.AssistantTurnEnded), timeout=20)
        await wait_for(lambda: not engine.playback.is_playing(), timeout=20)
        await asyncio.sleep(0.3)
        recording = recorder.stop()
    finally:
        engine.stop()
        await h.__aexit__()
    lag, score = correlation(speech, _received(emulator))
    print(f"uplink: correlation {score:.5f} at {lag * 1000 // SAMPLE_RATE} ms")  # noqa: T201
    assert score >= 0.99
    reply = np.frombuffer(bytes(next(iter(emulator.sessions[-1].replies.values())).audio), dtype="<i2")
    lag, score = correlation(reply, recording)
    window = recording[lag : lag + len(reply)]
    discontinuities = int(np.count_nonzero(window != reply))
    print(f"downlink: correlation {score:.5f}, {discontinuities} samples differ, "  # noqa: T201
          f"underruns {engine.playback.underruns}")
    assert score > 0.999 and discontinuities == 0 and engine.playback.underruns == 0


async def test_input_and_output_files_stand_in_for_devices(audio_devices: None, emulator: EmulatorServer,
                                                           tmp_path: Path) -> None:
    source = np.concatenate([silence(0.3), speechlike(1.2), silence(1.0)])
    stereo_48k = np.repeat(np.repeat(source, 2)[:, None], 2, axis=1)  # 48 kHz stereo: converted on read
    path = tmp_path / "in.wav"
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(stereo_48k.astype("<i2").tobytes())
    engine = AudioEngine(jitter_ms=40, input_file=path, output_file=tmp_path / "played.wav")
    h = await _engine_session(emulator, engine)
    try:
        await wait_for(lambda: h.of(nt.AssistantTurnEnded), timeout=20)
        await wait_for(lambda: not engine.playback.is_playing(), timeout=20)
        await asyncio.sleep(0.2)
    finally:
        engine.stop()
        await h.__aexit__()
    lag, score = correlation(source[SAMPLE_RATE // 4 :], _received(emulator))
    assert score > 0.99
    played = read_wav(tmp_path / "played.wav")
    reply = np.frombuffer(bytes(next(iter(emulator.sessions[-1].replies.values())).audio), dtype="<i2")
    lag, score = correlation(reply, played)
    assert score > 0.999 and np.array_equal(played[lag : lag + len(reply)], reply)


async def test_a_vanished_device_is_reported_and_audio_can_be_reopened(audio_devices: None) -> None:
    from app.config import load_settings
    from app.services import Services
    from app.tui import VoiceLiveApp
    from app.widgets.turn import NoticeLine

    engine = AudioEngine()
    app = VoiceLiveApp(load_settings({("connection", "local"): True}),
                       Services(engine=engine, emulator=EmulatorServer()))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: app.main.status.state == "connected" and engine.active, timeout=15)
        assert engine._pair is not None
        engine._pair.output.abort()
        await wait_for(lambda: app.main.status.audio == "text mode", timeout=5)
        notices = [str(n.render()) for n in app.screen.query(NoticeLine)]
        assert any("audio device stopped" in n and "press a" in n for n in notices), notices
        await wait_for(lambda: app.session.tracker.audio is None, timeout=5)
        await pilot.press("a")
        await wait_for(lambda: engine.active and app.main.status.audio == "audio", timeout=5)
        await wait_for(lambda: app.session.tracker.audio is engine.playback, timeout=5)
        await pilot.press("q")


async def test_no_portaudio_means_text_mode_with_a_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.audio import engine as engine_module
    from app.audio.devices import AudioUnavailable
    from app.config import load_settings
    from app.services import Services
    from app.tui import VoiceLiveApp
    from app.widgets.turn import NoticeLine

    def missing() -> None:
        raise AudioUnavailable("PortAudio is not installed (apt install libportaudio2), so audio is off.")

    monkeypatch.setattr(engine_module, "load_sounddevice", missing)
    app = VoiceLiveApp(load_settings({("connection", "local"): True}),
                       Services(engine=AudioEngine(), emulator=EmulatorServer()))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: app.main.status.state == "connected" and app.main.status.audio == "text mode", 15)
        assert any("PortAudio is not installed" in str(n.render()) for n in app.screen.query(NoticeLine))
        await pilot.press("t")
        await pilot.press(*"hi", "enter")
        await wait_for(lambda: len(app.session.conversation.turns) >= 2, timeout=10)
        await pilot.press("escape", "q")
    assert app.return_code == 0


def test_no_sound_server_at_all_starts_in_text_mode(tmp_path: Path) -> None:
    """A separate process: PortAudio enumerates devices once, so the environment must be wrong from the start."""
    script = textwrap.dedent("""
        import asyncio
        from app.audio.engine import AudioEngine
        from app.config import load_settings
        from app.emulator.server import EmulatorServer
        from app.services import Services
        from app.tui import VoiceLiveApp
        from app.widgets.turn import NoticeLine

        async def main():
            app = VoiceLiveApp(load_settings({("connection", "local"): True}),
                               Services(engine=AudioEngine(), emulator=EmulatorServer()))
            async with app.run_test() as pilot:
                for _ in range(200):
                    if app.main.status.audio == "text mode" and app.main.status.state == "connected":
                        break
                    await asyncio.sleep(0.05)
                print("STATE", app.main.status.state, app.main.status.audio)
                print("NOTICE", [str(n.render()) for n in app.screen.query(NoticeLine)])
                await pilot.press("q")

        asyncio.run(main())
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE")}
    env.update(PULSE_SERVER="unix:/nonexistent/socket")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env,
                         cwd=Path(__file__).resolve().parents[1])
    assert "STATE connected text mode" in out.stdout, out.stdout + out.stderr
    assert "text mode" in out.stdout.split("NOTICE", 1)[1]


def test_block_resampler_keeps_a_tone_and_block_edges_continuous() -> None:
    native = 48000
    frames = native // 50
    t = np.arange(native) / native
    tone = (np.sin(2 * np.pi * 300 * t) * 12000).astype(np.int16)
    down = BlockResampler(frames, BLOCK_FRAMES)
    out = np.zeros(SAMPLE_RATE, dtype=np.int16)
    for i in range(50):
        down.process(tone[i * frames : (i + 1) * frames], out[i * BLOCK_FRAMES : (i + 1) * BLOCK_FRAMES])
    assert abs(int(np.argmax(np.abs(np.fft.rfft(out)))) - 300) <= 1
    steps = np.abs(np.diff(out.astype(int)))
    assert steps.max() < 2 * 12000 * 2 * np.pi * 300 / SAMPLE_RATE  # no jump at any block edge
    up = BlockResampler(BLOCK_FRAMES, frames)
    back = np.zeros(native, dtype=np.int16)
    for i in range(50):
        up.process(out[i * BLOCK_FRAMES : (i + 1) * BLOCK_FRAMES], back[i * frames : (i + 1) * frames])
    assert abs(int(np.argmax(np.abs(np.fft.rfft(back)))) - 300) <= 1


def test_silence_watch_trips_only_on_digital_zeros() -> None:
    from app.audio.levels import SilenceWatch

    watch = SilenceWatch(seconds=0.1)
    for _ in range(4):
        watch.update(0.0, 480)
    watch.update(0.001, 480)
    assert not watch.tripped
    for _ in range(9):  # 10 ms blocks count for 10 ms each
        watch.update(0.0, 240)
    assert not watch.tripped
    watch.update(0.0, 240)
    assert watch.tripped


def test_bad_input_file_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav at all")
    assert main(["--local", "--input-file", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "bad.wav is not a readable PCM WAV file" in err and err.count("\n") == 0
    write_wav(tmp_path / "ok.wav", silence(0.1))


async def test_an_unknown_device_is_one_sentence_and_text_mode(audio_devices: None) -> None:
    from app.config import load_settings
    from app.services import Services
    from app.tui import VoiceLiveApp
    from app.widgets.turn import NoticeLine

    app = VoiceLiveApp(load_settings({("connection", "local"): True}),
                       Services(engine=AudioEngine(input_device="no-such-microphone"), emulator=EmulatorServer()))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: app.main.status.state == "connected" and app.main.status.audio == "text mode", 15)
        notices = [str(n.render()) for n in app.screen.query(NoticeLine)]
        assert any("No input device matches 'no-such-microphone'" in n for n in notices), notices
        await pilot.press("q")


async def test_an_output_file_that_cannot_be_written_is_one_sentence_and_text_mode(audio_devices: None,
                                                                                   tmp_path: Path) -> None:
    from app.config import load_settings
    from app.services import Services
    from app.tui import VoiceLiveApp
    from app.widgets.turn import NoticeLine

    (tmp_path / "a-file").write_text("not a folder")
    engine = AudioEngine(output_file=tmp_path / "a-file" / "played.wav")
    app = VoiceLiveApp(load_settings({("connection", "local"): True}),
                       Services(engine=engine, emulator=EmulatorServer(), transcript_dir=str(tmp_path / "t")))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: app.main.status.state == "connected" and app.main.status.audio == "text mode", 15)
        notices = [str(n.render()) for n in app.screen.query(NoticeLine)]
        assert any("played.wav" in n for n in notices), notices
        assert not engine.active  # the streams it had opened are closed again
        await pilot.press("q")
    assert app.return_code == 0
