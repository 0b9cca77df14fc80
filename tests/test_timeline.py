"""The turn timeline as a model: events in, per-turn times and per-setting medians out (no sockets, no UI).

Times are given explicitly, so each expected number follows from the script of the turn.
"""

from __future__ import annotations

import pytest

from app.protocol.session import TurnDetection, quickstart_turn_detection
from app.protocol.turn_labels import turn_key
from app.voicelive.local_speech import BlockSpeechDetector
from app.voicelive.timeline import Timeline
from app.voicelive.usage import Usage, short_count
from tests.helpers import silence, speechlike


class Live:
    """The turn detection "live at the service", changed by the test."""

    def __init__(self, td: TurnDetection | None) -> None:
        self.td = td

    def __call__(self) -> TurnDetection | None:
        return self.td


def spoken_turn(t: Timeline, start: float, *, reply: str, silence_s: float = 0.2) -> None:
    """Speak from `start` for 2 s; the service detects 0.3 s in and stops `silence_s` after the end."""
    t.local_speech("start", start)
    t.speech_started(start + 0.3, int(start * 1000))
    t.speech_stopped(start + 2.0 + silence_s + 0.05, int((start + 2.0) * 1000))
    t.local_speech("stop", start + 2.0)  # the local detector's hangover makes it arrive after the stop
    t.committed(f"user-{reply}", start + 2.0 + silence_s + 0.06)
    t.reply_started(reply, start + 2.0 + silence_s + 0.4)
    t.reply_heard(reply, start + 2.0 + silence_s + 0.5)


def test_a_spoken_turn_has_every_interval() -> None:
    t = Timeline(Live(quickstart_turn_detection()))
    spoken_turn(t, 10.0, reply="a1")
    (timing,) = t.timings()
    assert (timing.detection_ms, timing.stop_ms, timing.commit_ms) == (300, 250, 260)
    assert (timing.end_of_turn_ms, timing.arrival_ms, timing.speech_ms) == (700, 600, 2000)
    assert timing.user_item == "user-a1" and timing.reply_item == "a1"
    assert not timing.cut_off and not timing.interrupted
    assert timing.label == "semantic 0.30 200ms"
    assert "reply audible 700 ms after you stopped" in timing.describe()


def test_medians_are_kept_per_setting_and_follow_the_silence_window() -> None:
    live = Live(quickstart_turn_detection())
    t = Timeline(live)
    for n in range(3):
        spoken_turn(t, 10.0 * n, reply=f"short{n}", silence_s=0.2)
    live.td = quickstart_turn_detection().model_copy(update={"silence_duration_ms": 900})
    for n in range(3, 5):
        spoken_turn(t, 10.0 * n, reply=f"long{n}", silence_s=0.9)
    short, long = t.summaries()
    assert (short.turns, long.turns) == (3, 2)
    assert (short.end_of_turn_ms, long.end_of_turn_ms) == (700, 1400)
    assert (short.stop_ms, long.stop_ms) == (250, 950)
    assert long.label == "semantic 0.30 900ms" and t.current_settings == long.settings


def test_speech_within_a_second_of_the_stop_marks_the_turn_cut_off() -> None:
    t = Timeline(Live(quickstart_turn_detection()))
    t.local_speech("start", 0.0)
    t.speech_started(0.3, 0)
    t.speech_stopped(1.3, 1000)
    t.local_speech("start", 1.6)  # the user was only pausing
    first, = t.timings()
    assert first.cut_off


def test_the_services_own_timeline_shows_a_cut_off_the_microphone_bridged() -> None:
    live = Live(quickstart_turn_detection())  # prefix padding 200 ms
    t = Timeline(live)
    t.local_speech("start", 0.0)
    t.speech_started(0.3, 0)
    t.speech_stopped(1.3, 1000)
    t.speech_started(1.9, 1400)  # speech again at 1600 ms on the input timeline: 600 ms after the stop
    first, second = t.timings()
    assert first.cut_off and not second.cut_off


def test_a_pause_longer_than_the_window_is_not_a_cut_off() -> None:
    t = Timeline(Live(quickstart_turn_detection()))
    spoken_turn(t, 0.0, reply="a1")
    spoken_turn(t, 5.0, reply="a2")
    assert [timing.cut_off for timing in t.timings()] == [False, False]


def test_an_interrupted_reply_is_counted() -> None:
    t = Timeline(Live(quickstart_turn_detection()))
    spoken_turn(t, 0.0, reply="a1")
    t.reply_ended("a1", interrupted=True)
    (summary,) = t.summaries()
    assert summary.interrupted == 1 and t.timings()[0].interrupted


def test_a_push_to_talk_turn_ends_where_the_speech_ended() -> None:
    t = Timeline(Live(None))
    t.talk_started(0.0)
    t.local_speech("start", 0.1)
    t.local_speech("stop", 1.5)
    t.talk_ended(1.8)
    t.committed("u1", 1.85)
    t.reply_started("a1", 2.0)
    t.reply_heard("a1", 2.1)
    (timing,) = t.timings()
    assert timing.label == "push-to-talk" and timing.settings == turn_key(None)
    assert (timing.commit_ms, timing.end_of_turn_ms, timing.detection_ms) == (350, 600, None)


def test_noise_the_service_never_detected_is_not_a_turn() -> None:
    t = Timeline(Live(quickstart_turn_detection()))
    t.local_speech("start", 0.0)
    t.local_speech("stop", 0.2)
    assert t.timings() == ()
    t.local_speech("start", 1.0)  # the real utterance: its onset, not the cough's, counts
    t.speech_started(1.25, 800)
    assert t.timings()[0].detection_ms == 250


def test_a_typed_turns_reply_belongs_to_no_spoken_turn() -> None:
    t = Timeline(Live(quickstart_turn_detection()))
    spoken_turn(t, 0.0, reply="a1")
    assert not t.reply_started("typed-reply", 9.0)


@pytest.mark.parametrize("frames", [480, 240])  # 20 ms blocks (a file, a resampled device) and 10 ms ones
def test_blocks_give_local_onsets_and_ends(frames: int) -> None:
    detector = BlockSpeechDetector(hangover_s=0.3)
    audio = [silence(0.2), speechlike(0.5), silence(0.6)]
    events = []
    clock = 100.0
    for part in audio:
        for start in range(0, len(part), frames):
            clock += frames / 24000
            event = detector.feed(part[start : start + frames].tobytes(), clock)
            if event is not None:
                events.append(event)
    assert [e.kind for e in events] == ["start", "stop"]
    assert abs(events[0].at - 100.2) < 0.012 and abs(events[1].at - 100.7) < 0.025


def test_usage_is_parsed_tolerantly_and_summed() -> None:
    response = {"usage": {"input_tokens": 120, "output_tokens": 340,
                          "input_token_details": {"cached_tokens": 20, "text_tokens": 20, "audio_tokens": 100},
                          "output_token_details": {"text_tokens": 40, "audio_tokens": 300}}}
    usage = Usage.from_response(response)
    assert usage is not None and usage.total == 460
    assert usage.describe() == "tokens in 120 (audio 100, cached 20) · out 340 (audio 300)"
    assert Usage.from_response({}) is None
    odd = Usage.from_response({"usage": {"input_tokens": "many", "output_tokens": -3}})
    assert odd == Usage()
    assert (usage + usage).output_audio == 600
    assert [short_count(n) for n in (999, 1234, 123456)] == ["999", "1.2k", "123k"]


def test_blocks_held_back_by_a_busy_loop_keep_their_place_in_time() -> None:
    detector = BlockSpeechDetector(hangover_s=0.3)
    blocks = [part[start : start + 480] for part in (silence(0.2), speechlike(0.5), silence(0.6))
              for start in range(0, len(part), 480)]
    events = []
    for n, block in enumerate(blocks):
        captured_end = 100.0 + (n + 1) * 0.02
        arrived = 101.1 if 30 <= n < 55 else captured_end  # a 0.6 s stall from the end of the speech on
        event = detector.feed(block.tobytes(), arrived)
        if event is not None:
            events.append(event)
    assert [e.kind for e in events] == ["start", "stop"]
    assert abs(events[0].at - 100.2) < 0.025 and abs(events[1].at - 100.7) < 0.025
