"""Push-to-talk against the emulator: manual turns (clear, audio, commit, then a response), no VAD events,
an empty commit refused in one sentence, and the talk key stopping a reply that is playing.

Each test checks what the emulator received and sent, not what the session says about itself.
"""

from __future__ import annotations

from typing import Any

from app.emulator.server import EmulatorServer
from app.protocol.events import ErrorDetail
from app.protocol.session import SessionConfig
from app.voicelive import notices as nt
from app.voicelive.push_to_talk import refusal_sentence
from tests.helpers import speechlike, wait_for
from tests.session_harness import SessionHarness

MANUAL = SessionConfig(turn_detection=None)


def _kinds(events: Any) -> list[str]:
    return [e["type"] for e in events]


async def test_a_talk_turn_is_cleared_committed_and_answered_without_vad(emulator: EmulatorServer) -> None:
    async with SessionHarness(emulator, config=MANUAL) as h:
        h.session.talk_start()
        await h.stream(speechlike(1.0))
        h.session.talk_end()
        await wait_for(lambda: any(n.status == "completed" for n in h.of(nt.AssistantTurnEnded)), timeout=15)
        received = [k for k in _kinds(h.emulated.received) if k != "session.update"]
        assert received[0] == "input_audio_buffer.clear"
        assert received[1:-2] == ["input_audio_buffer.append"] * 50  # every block of the second, in order
        assert received[-2:] == ["input_audio_buffer.commit", "response.create"]
        sent = _kinds(e for _, e in h.emulated.sent)
        assert "input_audio_buffer.committed" in sent and "response.done" in sent
        assert not [k for k in sent if k.startswith("input_audio_buffer.speech_")]
        assert [(n.push_to_talk, n.talking) for n in h.of(nt.TalkChanged)] == [(True, True), (True, False)]
        timing = h.of(nt.TimelineChanged)[-1].turns[-1]
        assert timing.label == "push-to-talk" and timing.commit_ms is not None and timing.commit_ms >= 0


async def test_the_microphone_is_sent_only_while_talking(emulator: EmulatorServer) -> None:
    async with SessionHarness(emulator, config=MANUAL) as h:
        await h.stream(speechlike(0.5))  # the key is up: nothing goes out
        h.session.talk_start()
        await h.stream(speechlike(0.2))
        h.session.talk_end()
        await wait_for(lambda: "input_audio_buffer.commit" in _kinds(h.emulated.received), timeout=5)
        assert _kinds(h.emulated.received).count("input_audio_buffer.append") == 10


async def test_an_empty_commit_is_refused_in_one_sentence_and_nothing_is_answered(emulator: EmulatorServer) -> None:
    async with SessionHarness(emulator, config=MANUAL) as h:
        h.session.talk_start()
        h.session.talk_end()  # no audio in between
        await wait_for(lambda: h.of(nt.Info), timeout=5)
        sentence = h.of(nt.Info)[-1].message
        assert sentence.startswith("Nothing was sent to answer") and sentence.endswith(".") and "\n" not in sentence
        assert "buffer too small" in sentence  # the service's own reason, inside the one sentence
        assert "response.create" not in _kinds(h.emulated.received)
        assert not h.of(nt.ServiceError)


async def test_talking_stops_a_playing_reply(emulator: EmulatorServer) -> None:
    emulator.options.speed = 1.0
    async with SessionHarness(emulator, config=MANUAL) as h:
        h.session.send_text("talk for a while")
        await wait_for(lambda: h.playback.played_ms(h.of(nt.AssistantTurnStarted)[0].item_id) > 200
                       if h.of(nt.AssistantTurnStarted) else False, timeout=15)
        h.session.talk_start()
        await wait_for(lambda: "conversation.item.truncate" in _kinds(h.emulated.received), timeout=5)
        assert "response.cancel" in _kinds(h.emulated.received)
        await wait_for(lambda: h.of(nt.AssistantTurnEnded), timeout=5)
        assert h.of(nt.AssistantTurnEnded)[0].interrupted_at_ms is not None


async def test_talk_keys_do_nothing_but_say_so_while_turn_detection_is_on(emulator: EmulatorServer) -> None:
    async with SessionHarness(emulator) as h:
        h.session.talk_start()
        h.session.talk_end()
        assert "Push-to-talk is off" in h.of(nt.Info)[-1].message
        assert "input_audio_buffer.clear" not in _kinds(h.emulated.received)


def test_a_refused_commit_is_one_sentence_whatever_the_reason() -> None:
    empty = refusal_sentence(ErrorDetail(code="input_audio_buffer_commit_empty", message="Buffer is empty."))
    other = refusal_sentence(ErrorDetail(code="server_error", message="Something broke."))
    assert empty == "Nothing was sent to answer: the service found no audio in your turn (Buffer is empty)."
    assert other == "Your turn was not sent: the service refused it (Something broke)."
