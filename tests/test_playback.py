"""The playback buffer without devices: jitter priming, underruns, flush with fade, played accounting."""

from __future__ import annotations

import numpy as np

from app.audio import BLOCK_FRAMES, ms_to_frames
from app.audio.playback import DRIFT_AFTER_MS, PlaybackBuffer
from app.audio.wav import resample


def ramp(n: int, start: int = 1) -> np.ndarray:
    return (np.arange(start, start + n) % 30000 + 1).astype(np.int16)


def pull(buf: PlaybackBuffer, blocks: int = 1, start_frames: int = 0) -> np.ndarray:
    out = np.empty(BLOCK_FRAMES * blocks, dtype=np.int16)
    for i in range(blocks):
        buf.fill(out[i * BLOCK_FRAMES : (i + 1) * BLOCK_FRAMES], start_frames=start_frames)
    return out


def test_waits_for_the_jitter_target_then_plays_bit_exact() -> None:
    buf = PlaybackBuffer(jitter_ms=80)
    audio = ramp(ms_to_frames(60))
    buf.write("a", audio)
    assert not pull(buf).any()  # 60 ms < 80 ms jitter: still silent
    more = ramp(ms_to_frames(100), start=len(audio) + 1)
    buf.write("a", more)
    played = pull(buf, 7)  # down to 20 ms left, and unchanged (a reply this young is never slowed)
    assert np.array_equal(played, np.concatenate([audio, more])[: 7 * BLOCK_FRAMES])


def test_a_start_on_a_restarted_stream_waits_for_what_the_device_takes_at_once() -> None:
    """The device's queue comes out of this buffer in one go when a reply starts on a restarted stream:
    starting at the bare target would leave only target − queue to absorb jitter."""
    buf = PlaybackBuffer(jitter_ms=80)
    queue = ms_to_frames(40)
    buf.write("a", ramp(ms_to_frames(100)))
    assert buf.would_start(0.0)  # without a restart, 80 ms is enough ...
    assert not buf.would_start(0.0, queue)
    assert not pull(buf, start_frames=queue).any()  # ... with one, 100 ms < 80 + 40 ms: still silent
    buf.write("a", ramp(ms_to_frames(20), start=ms_to_frames(100) + 1))
    assert buf.would_start(0.0, queue)
    played = pull(buf, 2, start_frames=queue)
    assert np.array_equal(played, ramp(len(played)))  # the queue's worth taken at once ...
    assert buf.buffered_ms == 80  # ... and the whole target is still here


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
    assert buf.underruns == 0  # ran dry, but it may just have ended
    buf.write("a", ramp(ms_to_frames(20)))  # more of it: that was a gap; below the target again: must wait
    assert buf.underruns == 1
    assert not pull(buf).any()


def test_each_underrun_raises_the_target_for_what_follows_up_to_a_bound() -> None:
    buf = PlaybackBuffer(jitter_ms=40)
    for gaps in range(1, 7):
        buf.write("a", ramp(ms_to_frames(buf.target_ms)))
        pull(buf, 20)  # plays all of it and runs dry
        buf.write("a", ramp(ms_to_frames(20)))  # more of it: a gap was heard
        assert buf.underruns == gaps
        assert buf.target_ms == 40 + min(20 * gaps, 80)
        buf.write("a", ramp(ms_to_frames(buf.target_ms - 30)))
        assert not pull(buf).any()  # re-armed at the grown target: 10 ms short of it, still silent
        buf.write("a", ramp(ms_to_frames(10)))
        assert pull(buf).all()
    buf.set_jitter_ms(40)
    assert buf.target_ms == 120  # the same setting re-applied (any settings change does): still grown
    for replies in range(1, 5):  # each reply heard without a gap gives some back
        buf.write(f"b{replies}", ramp(ms_to_frames(200)))
        buf.end_item(f"b{replies}")
        pull(buf, 20)
        assert buf.target_ms == 120 - 5 * replies
    buf.set_jitter_ms(60)
    assert buf.target_ms == 60  # a new setting starts from itself


def test_a_reply_whose_done_event_comes_after_its_last_frame_did_not_underrun() -> None:
    buf = PlaybackBuffer(jitter_ms=40)
    buf.write("a", ramp(ms_to_frames(60)))
    pull(buf, 5)
    buf.end_item("a")
    buf.write("b", ramp(ms_to_frames(60)))
    assert buf.underruns == 0


def test_flush_fades_out_within_12_ms_and_drops_the_rest() -> None:
    buf = PlaybackBuffer(jitter_ms=0, fade_ms=10)
    buf.write("a", np.full(ms_to_frames(1000), 10000, dtype=np.int16))
    pull(buf, 5)
    buf.request_flush()
    out = pull(buf)
    sounding = np.flatnonzero(out)
    assert sounding.size and sounding[-1] < ms_to_frames(12)  # silent 12 ms into the block
    assert np.all(np.diff(out[: sounding[-1] + 1].astype(int)) <= 0) and out[0] > 9000  # a ramp down, not a step
    assert not pull(buf, 5).any() and buf.buffered_ms == 0
    assert buf.flushes == 1


def test_a_new_item_written_right_after_a_flush_plays_in_full() -> None:
    """The flush takes effect when requested: audio written before the next callback is the new reply."""
    buf = PlaybackBuffer(jitter_ms=40, fade_ms=10)
    buf.write("old", np.full(ms_to_frames(1000), 10000, dtype=np.int16))
    buf.end_item("old")
    pull(buf, 5)
    buf.request_flush()
    new = ramp(ms_to_frames(300))
    buf.write("new", new)
    buf.end_item("new")
    played = pull(buf, 20)
    fade = ms_to_frames(10)
    assert np.all(played[:fade] <= 10000) and np.array_equal(played[BLOCK_FRAMES : BLOCK_FRAMES + len(new)], new)
    assert not played[BLOCK_FRAMES + len(new) :].any()
    assert buf.played_ms("new") == 300 and buf.played_ms("old") == 110


def test_a_flush_with_nothing_left_to_hear_cuts_nothing() -> None:
    buf = PlaybackBuffer(jitter_ms=0)
    buf.write("a", ramp(ms_to_frames(100)))
    buf.end_item("a")
    pull(buf, 6)
    buf.request_flush()
    assert buf.flushes == 0 and buf.played_ms("a") == 100 and not buf.is_playing()


def test_played_ms_follows_the_dac_not_the_handoff() -> None:
    """With PortAudio's DAC times, audio handed to the device counts only once it is due at the speaker."""
    import time

    buf = PlaybackBuffer(jitter_ms=0)
    buf.write("a", ramp(ms_to_frames(1000)))
    buf.end_item("a")
    now = time.monotonic()
    for k in range(5):  # 100 ms handed, the first frame due half a second from now
        buf.fill(np.empty(BLOCK_FRAMES, dtype=np.int16), dac_time=now + 0.5 + 0.02 * k)
    assert buf.played_ms("a") == 0 and buf.is_playing("a") and buf.current_item == "a"
    buf2 = PlaybackBuffer(jitter_ms=0)
    buf2.device_flush = True
    buf2.write("a", ramp(ms_to_frames(1000)))
    for k in range(5):
        buf2.fill(np.empty(BLOCK_FRAMES, dtype=np.int16), dac_time=now - 0.03 + 0.02 * k)
    buf2.request_flush()  # 30 ms heard by `now`; the device still holds 70 ms handed
    late_ms = (time.monotonic() - now) * 1000
    assert 29 <= buf2.played_ms("a") <= 31 + late_ms
    buf2.device_dropped(now - 0.005)  # the drop happened 25 ms after the first frame was due
    assert buf2.played_ms("a") == 25
    buf2.device_dropped(now + 0.01)  # a later report changes nothing: the cut is settled
    assert buf2.played_ms("a") == 25 and buf2.received_ms("a") == 1000


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
    assert not buf.is_playing("b")
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


def test_a_long_reply_running_low_plays_a_block_one_frame_slower() -> None:
    """The device's clock outpacing the sender's drains the margin over minutes. Once a reply has played
    long enough for drift to matter, a block below the jitter target is made from one frame fewer (and a
    smooth signal stays smooth); before that, a reply held just below its target plays bit-exact."""
    buf = PlaybackBuffer(jitter_ms=80)
    audio = ramp(ms_to_frames(DRIFT_AFTER_MS + 200), start=10_000)
    step = BLOCK_FRAMES
    buf.write("a", audio[: 4 * step])  # 80 ms: it starts
    written, handed = 4 * step, 0
    while handed < ms_to_frames(DRIFT_AFTER_MS):  # 40 ms pulled before each write: every other at 60 ms
        played = pull(buf)
        assert np.array_equal(played, audio[handed : handed + step]), f"changed at {handed} frames"
        handed += step
        if handed % (2 * step) == 0:
            buf.write("a", audio[written : written + 2 * step])
            written += 2 * step
    assert buf.stretched_blocks == 0
    assert np.array_equal(pull(buf), audio[handed : handed + step])  # at the target: full speed
    handed += step
    slowed = pull(buf)  # 5 s played and below the target: slowed
    assert buf.stretched_blocks == 1
    source = audio[handed : handed + step - 1]
    assert slowed[0] == source[0] and slowed[-1] == source[-1]  # 480 frames from 479, ends kept ...
    assert np.abs(np.diff(slowed.astype(np.int32))).max() <= 1  # ... and a ramp stays a ramp
    assert pull(buf)[0] == audio[handed + step - 1]  # the frame it saved plays next: nothing skipped


def test_a_complete_reply_is_never_slowed() -> None:
    buf = PlaybackBuffer(jitter_ms=80)
    audio = ramp(ms_to_frames(DRIFT_AFTER_MS + 300), start=10_000)
    buf.write("a", audio)
    buf.end_item("a")  # all of it arrived: its last 80 ms play below the target, unchanged
    blocks = len(audio) // BLOCK_FRAMES
    assert np.array_equal(pull(buf, blocks), audio[: blocks * BLOCK_FRAMES])
    assert buf.stretched_blocks == 0


def test_each_reply_counts_its_own_five_seconds() -> None:
    """A long reply followed by a short one: the short one, below its target, plays unchanged."""
    buf = PlaybackBuffer(jitter_ms=80)
    first = ramp(ms_to_frames(DRIFT_AFTER_MS + 100), start=10_000)
    buf.write("a", first)
    buf.end_item("a")
    second = ramp(ms_to_frames(100), start=1)
    buf.write("b", second)  # open, and 100 ms: below the target once 40 ms of it have played
    played = pull(buf, (len(first) + len(second)) // BLOCK_FRAMES - 1)
    assert np.array_equal(played, np.concatenate([first, second])[: len(played)])
    assert buf.stretched_blocks == 0
