"""Our session against the emulator over real websockets on 127.0.0.1."""

from __future__ import annotations

import json

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from app.audio import SAMPLE_RATE
from app.emulator.server import EmulatorServer
from app.protocol.session import SessionConfig, TurnDetection
from app.voicelive import notices as nt
from tests.helpers import correlation, silence, speechlike, wait_for
from tests.session_harness import SessionHarness


async def test_a_spoken_turn_is_transcribed_and_answered_with_audio(emulator: EmulatorServer) -> None:
    async with SessionHarness(emulator) as h:
        speech = speechlike(1.5)
        await h.stream(np.concatenate([silence(0.3), speech, silence(0.8)]))
        await wait_for(lambda: h.of(nt.AssistantTurnEnded), timeout=15)
        started, stopped = h.of(nt.SpeechStarted)[0], h.of(nt.SpeechStopped)[0]
        assert 0 <= started.audio_start_ms <= 300 and 1700 <= stopped.audio_end_ms <= 1850
        user = h.of(nt.UserTranscribed)[0]
        assert user.text.startswith("(1.")
        ended = h.of(nt.AssistantTurnEnded)[0]
        assert ended.status == "completed" and "seconds of speech" in ended.text
        assert "".join(d.delta for d in h.of(nt.AssistantTextDelta)) == ended.text
        await wait_for(lambda: not h.playback.is_playing(), timeout=10)
        lag, score = correlation(speech[SAMPLE_RATE // 10 : -SAMPLE_RATE // 10], h.speaker.recording())
        assert score > 0.99, (lag, score)
    # the emulator saw our configuration, exactly as serialised
    update = next(e for e in h.emulated.received if e["type"] == "session.update")
    assert update["session"] == SessionConfig().to_payload("2026-07-15")
    assert h.emulated.session["turn_detection"]["type"] == "azure_semantic_vad"


async def test_a_typed_turn_is_answered(emulator: EmulatorServer) -> None:
    async with SessionHarness(emulator) as h:
        h.session.send_text("hello emulator")
        await wait_for(lambda: h.of(nt.AssistantTurnEnded), timeout=15)
        assert h.of(nt.UserTurnAdded)[0].text == "hello emulator"
        ended = h.of(nt.AssistantTurnEnded)[0]
        assert ended.status == "completed" and ended.text.startswith("You typed: hello emulator")
        assert h.playback.received_ms(ended.item_id) > 300


async def test_interrupt_cancels_flushes_and_truncates_at_what_was_played(emulator: EmulatorServer) -> None:
    emulator.options.speed = 1.0  # keep the reply streaming while we interrupt
    async with SessionHarness(emulator) as h:
        h.session.send_text("a long answer please")
        await wait_for(lambda: h.of(nt.AssistantTurnStarted), timeout=15)
        item = h.of(nt.AssistantTurnStarted)[0].item_id
        await wait_for(lambda: h.playback.played_ms(item) >= 300, timeout=10)
        h.session.interrupt()
        await wait_for(lambda: h.of(nt.AssistantTurnEnded), timeout=10)
        ended = h.of(nt.AssistantTurnEnded)[0]
        assert ended.status == "cancelled" and ended.interrupted_at_ms is not None
        await wait_for(lambda: h.emulated.replies[item].truncated_at_ms is not None, timeout=5)
        reply = h.emulated.replies[item]
        assert reply.status == "cancelled"
        assert reply.truncated_at_ms == ended.interrupted_at_ms
        assert reply.truncated_at_ms <= len(reply.audio) // 2 * 1000 // SAMPLE_RATE
        assert not h.playback.is_playing()
        kinds = [e["type"] for e in h.emulated.received]
        assert kinds.index("response.cancel") < kinds.index("conversation.item.truncate")
        assert not h.of(nt.ServiceError)


async def test_speech_during_a_reply_barges_in(emulator: EmulatorServer) -> None:
    emulator.options.speed = 1.0
    config = SessionConfig(turn_detection=TurnDetection(type="server_vad", threshold=0.5, silence_duration_ms=300))
    async with SessionHarness(emulator, config=config) as h:
        h.session.send_text("talk to me")
        await wait_for(lambda: h.of(nt.AssistantTurnStarted), timeout=15)
        item = h.of(nt.AssistantTurnStarted)[0].item_id
        await wait_for(lambda: h.playback.played_ms(item) >= 200, timeout=10)
        await h.stream(speechlike(0.6), realtime=True)
        await wait_for(lambda: h.of(nt.AssistantTurnEnded), timeout=10)
        ended = h.of(nt.AssistantTurnEnded)[0]
        assert ended.item_id == item and ended.status == "cancelled" and ended.interrupted_at_ms
        assert h.emulated.replies[item].status == "cancelled"
        await wait_for(lambda: h.emulated.replies[item].truncated_at_ms is not None, timeout=5)


async def test_a_rejected_update_is_reported_and_the_session_goes_on(emulator: EmulatorServer) -> None:
    async with SessionHarness(emulator) as h:
        good = h.session.config.confirmed
        assert good is not None
        bad = SessionConfig.model_construct(**{**dict(good), "turn_detection": TurnDetection.model_construct(
            **{**dict(TurnDetection()), "threshold": 5.0})})
        outcome = h.session.request(lambda _: bad)
        await wait_for(lambda: h.of(nt.SessionRejected), timeout=5)
        rejected = h.of(nt.SessionRejected)[0]
        assert rejected.param == "session.turn_detection.threshold"
        assert outcome.done() and not outcome.result().applied
        assert h.session.config.confirmed is good and h.session.config.desired is good  # rolled back
        assert h.emulated.session["turn_detection"]["threshold"] == good.turn_detection.threshold  # type: ignore[union-attr]
        h.session.send_text("still there?")
        await wait_for(lambda: h.of(nt.AssistantTurnEnded), timeout=15)
        assert h.of(nt.AssistantTurnEnded)[0].status == "completed"


async def test_a_wrong_key_gives_the_401_sentence(emulator: EmulatorServer) -> None:
    async with SessionHarness(emulator, api_key="wrong-key") as h:
        await wait_for(h.failed, timeout=5)
    detail = h.failed()[0].detail
    assert "HTTP 401" in detail and "wrong-key" not in detail and detail.endswith(".")


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/voice-live/realtime?api-version=v&model=m", {"api-key": "nope"}, 401),
        ("/voice-live/realtime?api-version=v&model=m", {}, 401),
        ("/openai/realtime?api-version=v&model=m", {"api-key": "test-key-0123456789"}, 404),
        ("/voice-live/realtime?model=m", {"api-key": "test-key-0123456789"}, 400),
        ("/voice-live/realtime?api-version=v", {"api-key": "test-key-0123456789"}, 400),
    ],
)
async def test_emulator_handshake_rules(emulator: EmulatorServer, path: str, headers: dict[str, str],
                                        status: int) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(f"ws://127.0.0.1:{emulator.port}{path}", additional_headers=headers):
            pass
    assert info.value.response.status_code == status


async def test_emulator_accepts_key_in_query_and_bearer_tokens(emulator: EmulatorServer) -> None:
    emulator.options.accept_any_token = True  # bearer tokens only when told to (Entra ID tests)
    base = f"ws://127.0.0.1:{emulator.port}/voice-live/realtime?api-version=v&model=m"
    async with connect(base + "&api-key=test-key-0123456789") as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"
    async with connect(base, additional_headers={"Authorization": "Bearer any-token"}) as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"
