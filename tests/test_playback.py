"""The playback buffer without devices: jitter priming, underruns, flush with fade, played accounting."""

from __future__ import annotations

import numpy as np

from app.audio import BLOCK_FRAMES, ms_to_frames
from app.audio.playback import PlaybackBuffer
from app.audio.wav import resample


def ramp(n: int, start: int = 1) -> np.ndarray:
    return (np.arange(start, start + n) % 30000 + 1).astype(np.int16)


def pull(buf: PlaybackBuffer, blocks: int = 1) -> np.ndarray:
    out = np.empty(BLOCK_FRAMES * blocks, dtype=np.int16)
    for i in range(blocks):
        buf.fill(out[i * BLOCK_FRAMES : (i + 1) * BLOCK_FRAMES])
    return out


def test_waits_for_the_jitter_target_then_plays_bit_exact() -> None:
    buf = PlaybackBuffer(jitter_ms=80)
    audio = ramp(ms_to_frames(60))
    buf.write("a", audio)
    assert not pull(buf).any()  # 60 ms < 80 ms jitter: still silent
    more = ramp(ms_to_frames(100), start=len(audio) + 1)
    buf.write("a", more)
    played = pull(buf, 8)
    assert np.array_equal(played, np.concatenate([audio, more]))


def test_a_complete_short_reply_plays_without_waiting_for_the_jitter_target() -> None:
    buf = PlaybackBuffer(jitter_ms=200)
    buf.write("a", ramp(300))
    buf.end_item("a")
    out = pull(buf)
    assert np.array_equal(out[:300], ramp(300)) and not out[300:].any()
    assert buf.underruns == 0  # the end of a reply is not an underrun


def test_underrun_is_counted_and_rearms_the_jitter_buffer() -> None:
    buf = PlaybackBuffer(jitter_ms=40)
    buf.write("a", ramp(ms_to_frames(40)))
    pull(buf, 3)
    assert buf.underruns == 1
    buf.write("a", ramp(ms_to_frames(20)))  # below the target again: must wait
    assert not pull(buf).any()


def test_flush_fades_out_within_12_ms_and_drops_the_rest() -> None:
    buf = PlaybackBuffer(jitter_ms=0, fade_ms=10)
    buf.write("a", np.full(ms_to_frames(1000), 10000, dtype=np.int16))
    pull(buf, 5)
    buf.request_flush()
    out = pull(buf)
    fade = ms_to_frames(10)
    assert ms_to_frames(10) <= 12 * 24
    assert np.all(np.diff(out[:fade].astype(int)) <= 0) and out[0] > 9000  # a ramp down, not a step
    assert not out[fade:].any()
    assert not pull(buf, 5).any() and buf.buffered_ms == 0
    assert buf.flushes == 1


def test_played_ms_counts_frames_handed_to_the_device_per_item_and_is_clamped() -> None:
    buf = PlaybackBuffer(jitter_ms=0, fade_ms=10)
    buf.write("a", ramp(ms_to_frames(100)))
    buf.write("b", ramp(ms_to_frames(500)))
    pull(buf, 5)  # 100 ms of a, 0 of b
    assert buf.played_ms("a") == 100 and buf.played_ms("b") == 0
    pull(buf, 10)  # 200 ms of b
    assert buf.played_ms("b") == 200
    assert buf.current_item == "b" and buf.is_playing("b") and not buf.is_playing("a")
    buf.request_flush()
    assert buf.played_ms("b") == 210  # the fade that is still to come will be heard too
    pull(buf)
    assert buf.played_ms("b") == 210 and buf.received_ms("b") == 500
    assert buf.played_ms("unknown") == 0


def test_overflow_drops_and_counts_instead_of_growing() -> None:
    buf = PlaybackBuffer(jitter_ms=0, capacity_s=0.1)
    buf.write("a", ramp(ms_to_frames(150)))
    assert buf.overflow_frames == ms_to_frames(50)
    assert buf.buffered_ms == 100


def test_ring_wraps_around_bit_exact() -> None:
    buf = PlaybackBuffer(jitter_ms=0, capacity_s=0.05)  # 1200 frames
    sent, got = [], []
    for i in range(10):
        chunk = ramp(700, start=i * 700 + 1)
        buf.write("a", chunk)
        sent.append(chunk)
        out = np.empty(700, dtype=np.int16)
        buf.fill(out)
        got.append(out)
    assert np.array_equal(np.concatenate(sent), np.concatenate(got))


def test_resample_keeps_duration_and_a_tone() -> None:
    t = np.arange(48000) / 48000
    tone = (np.sin(2 * np.pi * 440 * t) * 10000).astype(np.int16)
    out = resample(tone, 48000, 24000)
    assert len(out) == 24000
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(int(np.argmax(spectrum)) - 440) <= 1
