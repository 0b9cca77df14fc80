"""Local speech detection and the duck gain, without devices: synthetic microphones on a synthetic clock.

The reference is what the output callback would record (reply blocks at their DAC times); the microphone
is built from it by the test — an attenuated, delayed copy for the echo, plus speech where the test says.
"""

from __future__ import annotations

import numpy as np

from app.audio import SAMPLE_RATE, ms_to_frames
from app.audio.ducking import DuckGain
from app.audio.local_speech import EchoReference, SpeechDetector
from app.audio.timeline import PlayedTimeline
from tests.helpers import speechlike

MIC_BLOCK = 240
OUT_BLOCK = 480


def run(reply: np.ndarray, mic: np.ndarray, *, t0: float = 1000.0) -> tuple[SpeechDetector, list[tuple[str, float]]]:
    """Feed the reply to the reference (by DAC time) and the microphone to the detector, in time order."""
    reference = EchoReference()
    detector = SpeechDetector(reference)
    scratch = np.zeros(OUT_BLOCK, dtype=np.float32)
    events: list[tuple[str, float]] = []
    played = 0
    for start in range(0, len(mic) - MIC_BLOCK + 1, MIC_BLOCK):
        while played <= start + MIC_BLOCK and played + OUT_BLOCK <= len(reply):  # the speaker runs ahead
            reference.played(reply[played : played + OUT_BLOCK], t0 + played / SAMPLE_RATE, scratch, audio=True)
            played += OUT_BLOCK
        kind = detector.process(mic[start : start + MIC_BLOCK], t0 + start / SAMPLE_RATE)
        if kind is not None:
            at = detector.onset_at if kind == "start" else detector.last_voice_at
            events.append((kind, at - t0))
    return detector, events


def echo_of(reply: np.ndarray, delay_ms: float, gain_db: float) -> np.ndarray:
    delayed = np.concatenate([np.zeros(ms_to_frames(delay_ms)), reply.astype(np.float64)])[: len(reply)]
    return (delayed * 10 ** (gain_db / 20)).astype(np.int16)


def test_a_reply_leaking_into_the_microphone_is_not_speech() -> None:
    reply = speechlike(8.0, level=0.4, seed=2)
    for delay_ms, gain_db in ((5, 0.0), (35, -6.0), (180, -12.0)):
        detector, events = run(reply, echo_of(reply, delay_ms, gain_db))
        assert events == [], (delay_ms, gain_db, events)
        assert detector.echo_delay_bins is not None and abs(detector.echo_delay_bins * 5 - delay_ms) <= 10
        assert abs(10 * np.log10(detector.coupling) - gain_db) <= 1.5


def test_speech_over_the_echo_is_heard_where_it_starts() -> None:
    reply = speechlike(8.0, level=0.4, seed=2)
    user = speechlike(1.0, level=0.5, seed=9)  # its peaks ~14 dB above the echo's
    mic = echo_of(reply, 35, -12.0).astype(np.int32)
    onset = 5 * SAMPLE_RATE
    mic[onset : onset + len(user)] += user
    _, events = run(reply, mic.clip(-32768, 32767).astype(np.int16))
    starts = [at for kind, at in events if kind == "start"]
    assert len(starts) == 1 and abs(starts[0] - 5.0) <= 0.03, events
    assert [kind for kind, _ in events] == ["start", "stop"]


def test_on_headphones_quiet_speech_during_a_loud_reply_is_heard() -> None:
    reply = speechlike(6.0, level=0.8, seed=2)  # loud in the ears, nothing in the microphone
    mic = np.zeros(len(reply), dtype=np.int16)
    onset = 4 * SAMPLE_RATE
    user = speechlike(0.8, level=0.05, seed=4)  # ~24 dB below the reply
    mic[onset : onset + len(user)] = user
    detector, events = run(reply, mic)
    assert [kind for kind, _ in events] == ["start", "stop"] and abs(events[0][1] - 4.0) <= 0.03
    assert detector.coupling < 1e-3


def test_the_duck_ramps_down_fast_and_back_up_smoothly_unless_released() -> None:
    duck = DuckGain(duck_db=-26.0, down_ms=5.0, restore_ms=200.0, window_s=0.6)
    block = np.full(OUT_BLOCK, 10000, dtype=np.int16)
    out = block.copy()
    duck.duck(now=0.0)
    duck.apply(out, now=0.0)
    assert out[ms_to_frames(5)] <= 10000 * 10 ** (-26 / 20) + 1 and np.all(np.diff(out.astype(int)) <= 0)
    levels = []
    for k in range(60):  # 1.2 s of blocks
        out = block.copy()
        duck.apply(out, now=0.02 * (k + 1))
        levels.append(out.astype(int))
    trace = np.concatenate(levels)
    assert not duck.ducked and duck.restores == 1 and trace[-1] == 10000
    rising = trace[ms_to_frames(600) - OUT_BLOCK :]
    assert np.all(np.diff(rising) >= 0) and np.max(np.diff(rising)) <= 10000 / ms_to_frames(200) + 1  # no step
    duck.duck(now=2.0)
    duck.release()  # the service confirmed: the flush cuts; the next reply is at full volume at once
    out = block.copy()
    duck.apply(out, now=2.0)
    assert np.array_equal(out, block) and duck.gain == 1.0


def test_the_timeline_maps_the_dac_clock_to_ring_positions_and_forgets_dropped_blocks() -> None:
    timeline = PlayedTimeline(size=8)
    for k in range(6):  # 20 ms blocks of 480 ring frames, the last one only 200 frames of audio
        timeline.record(10.0 + 0.02 * k, 480 * k, 480 if k < 5 else 200)
    assert timeline.position_at(9.0, default=-1) == 0  # before anything played
    assert timeline.position_at(10.03, default=-1) == 480 + 240
    assert timeline.position_at(10.2, default=-1) == 480 * 5 + 200  # silence after the last frame
    timeline.strike_after(10.05)  # the device dropped what was due after 10.05
    assert timeline.position_at(10.2, default=-1) == 480 * 2 + 240
    timeline.record(10.06, 480 * 2 + 240, 480)  # replayed from where the DAC stopped
    assert timeline.position_at(10.07, default=-1) == 480 * 2 + 240 + 240


def test_the_engine_ducks_on_speech_during_a_reply_unless_muted_or_left_to_the_service() -> None:
    import time

    from app.audio.engine import AudioEngine

    speech = speechlike(0.5, level=0.3, seed=3)
    outcomes = {}
    for mode, muted in (("duck", False), ("local-cut", False), ("service", False), ("duck", True)):
        engine = AudioEngine(barge_in=mode)  # type: ignore[arg-type]
        engine.muted = muted
        now = time.monotonic()
        engine.reference.last_audio_at = now + 1.0  # a reply is playing
        for k in range(0, len(speech) - MIC_BLOCK + 1, MIC_BLOCK):
            engine._capture(speech[k : k + MIC_BLOCK], now + k / SAMPLE_RATE, now + k / SAMPLE_RATE)
        outcomes[(mode, muted)] = (engine.detector.speaking, engine.ducker.ducks)
    assert outcomes == {("duck", False): (True, 1), ("local-cut", False): (True, 1),
                        ("service", False): (True, 0), ("duck", True): (True, 0)}


def test_the_echo_gate_lets_through_the_block_where_speech_began() -> None:
    """With 10 ms blocks, speech that begins late in a block is not yet "speaking" there, so the echo gate
    held that block back; it goes out, first, once the next block confirms the speech."""
    from app.audio.engine import AudioEngine

    engine = AudioEngine(echo_gate=True)
    sent: list[bytes] = []

    class Loop:
        def call_soon_threadsafe(self, sink: object, block: bytes) -> None:
            sent.append(block)

    engine._loop, engine._sink = Loop(), sent.append  # type: ignore[assignment]
    reply = (np.random.default_rng(1).standard_normal(480) * 0.05 * 32767).astype(np.int16)
    engine.output_level.update(reply)  # a reply is playing, loud enough to gate quiet blocks
    onset = MIC_BLOCK + 7 * SAMPLE_RATE // 1000  # speech begins 7 ms into the second block
    mic = np.concatenate([np.zeros(onset, dtype=np.int16), speechlike(0.3, level=0.3, seed=5)])
    for k in range(0, len(mic) - MIC_BLOCK + 1, MIC_BLOCK):
        engine._capture(mic[k : k + MIC_BLOCK], 100.0 + k / SAMPLE_RATE, 100.0 + k / SAMPLE_RATE)
    assert engine.detector.speaking and engine.gated_blocks >= 1
    heard = np.frombuffer(b"".join(sent), dtype=np.int16)
    assert np.array_equal(heard[: 2 * MIC_BLOCK], mic[MIC_BLOCK : 3 * MIC_BLOCK])


def _tone(seconds: float, dbfs: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    tone: np.ndarray = (np.sin(2 * np.pi * 220 * t) * np.sqrt(2) * 32768 * 10 ** (dbfs / 20)).astype(np.int16)
    return tone


def test_quiet_speech_is_heard_from_its_first_syllable() -> None:
    """−42 dBFS is a soft onset (a spoken word's first samples cross −40 dBFS peak): heard within 10 ms,
    not only once the word is 10 dB louder."""
    silence = np.zeros(ms_to_frames(500), dtype=np.int16)
    _, events = run(np.zeros(0, dtype=np.int16), np.concatenate([silence, _tone(0.3, -42.0), silence]))
    assert [kind for kind, _ in events] == ["start", "stop"]
    assert 0.5 <= events[0][1] <= 0.51


def test_a_rooms_steady_noise_is_learned_and_speech_is_judged_above_it() -> None:
    rng = np.random.default_rng(1)
    fan = (rng.standard_normal(8 * SAMPLE_RATE) * 32768 * 10 ** (-32 / 20)).astype(np.int16)  # above any fixed level
    mic = fan.copy()
    speech_at = 6 * SAMPLE_RATE
    mic[speech_at : speech_at + ms_to_frames(400)] += _tone(0.4, -15.0)
    _, events = run(np.zeros(0, dtype=np.int16), mic)
    assert [kind for kind, _ in events] == ["start", "stop", "start", "stop"]
    (_, fan_start), (_, fan_stop), (_, speech_start), _ = events
    assert fan_start < 0.01 and fan_stop < 0.5  # the fan, before its level is known; then it is the floor
    assert 6.0 <= speech_start <= 6.01  # the speech over it, where it begins


def test_a_noise_after_digital_silence_is_learned_within_two_seconds() -> None:
    """A stream that opens with exact zeros (or a muted device) must not make the floor nothing for long:
    a fan switched on afterwards may sound like speech while it is new, then it is the floor."""
    rng = np.random.default_rng(2)
    fan = (rng.standard_normal(6 * SAMPLE_RATE) * 32768 * 10 ** (-32 / 20)).astype(np.int16)
    mic = np.concatenate([np.zeros(SAMPLE_RATE // 2, dtype=np.int16), fan])
    speech_at = 4 * SAMPLE_RATE
    mic[speech_at : speech_at + ms_to_frames(400)] += _tone(0.4, -15.0)
    _, events = run(np.zeros(0, dtype=np.int16), mic)
    assert [kind for kind, _ in events][:3] == ["start", "stop", "start"]
    (_, fan_start), (_, fan_stop), (_, speech_start) = events[:3]
    assert 0.5 <= fan_start <= 0.52 and fan_stop < 2.5  # learned within ~1.5 s of starting
    assert 4.0 <= speech_start <= 4.01


def test_speech_out_of_digital_silence_is_not_taken_for_the_rooms_floor() -> None:
    """A gated or noise-suppressing microphone (or the virtual devices) delivers exact zeros between words.
    Wherever the word starts against the floor's 100 ms slots, its onset is heard within 10 ms: the first
    slot holding the word must not make the word the room's noise (it hid onsets for 25–55 ms)."""
    for lead_ms in range(500, 600, 5):
        silence = np.zeros(ms_to_frames(lead_ms), dtype=np.int16)
        _, events = run(np.zeros(0, dtype=np.int16), np.concatenate([silence, _tone(0.3, -30.0), silence]))
        starts = [at for kind, at in events if kind == "start"]
        assert starts and lead_ms / 1000 - 0.001 <= starts[0] <= lead_ms / 1000 + 0.01, (lead_ms, events)
