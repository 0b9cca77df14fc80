"""The outbox: bounded audio that never blocks, control frames never dropped while their connection lives,
and per-connection order across reconnects."""

from __future__ import annotations

from app.voicelive.outbox import Outbox


def _drain(box: Outbox) -> tuple[list[str], list[bytes]]:
    control = []
    while (frame := box.next_control()) is not None:
        control.append(frame.text)
        box.sent_control()
    return control, box.take_audio()


def test_audio_drops_oldest_and_counts_but_control_is_never_dropped() -> None:
    box = Outbox(max_audio_s=0.03)  # 30 ms: three 10 ms blocks
    box.put("c1")
    for i in range(5):
        box.put_audio(bytes([i]) * 480)
    box.put("c2")
    control, audio = _drain(box)
    assert control == ["c1", "c2"] and audio == [bytes([2]) * 480, bytes([3]) * 480, bytes([4]) * 480]
    assert box.dropped_audio_blocks == 2


def test_the_audio_lane_holds_the_same_time_whatever_the_block_size() -> None:
    for block_ms in (10, 20):
        box = Outbox()  # one second
        for _ in range(3000 // block_ms):
            box.put_audio(bytes(48 * block_ms))
        assert sum(len(block) for block in box.take_audio()) == 48000


def test_a_new_connection_sends_its_preamble_then_the_durable_frames_and_drops_the_rest() -> None:
    box = Outbox()
    box.put("truncate-old-item")
    box.put("typed-message", durable=True)
    box.put("cancel")
    box.put("response-create", durable=True)
    box.put_audio(b"stale speech")
    box.begin_connection()
    box.put("session.update")
    box.put("replay-1")
    box.end_preamble()
    control, audio = _drain(box)
    assert control == ["session.update", "replay-1", "typed-message", "response-create"]
    assert audio == [] and box.dropped_stale_frames == 2


def test_a_frame_leaves_the_outbox_only_once_sent() -> None:
    box = Outbox()
    box.put("a", durable=True)
    frame = box.next_control()
    assert frame is not None and frame.text == "a"
    box.begin_connection()  # the socket died before `sent_control`: the frame is still there
    box.end_preamble()
    assert box.queued_control == ["a"]
