"""The session as the one owner of its state: changes never lost, frames in order across reconnects.

Each test checks what the other end of a real socket received (the emulator, or a scripted service that
confirms slowly), not what the session says about itself.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from app.emulator.server import EmulatorServer
from app.protocol.changes import nudge
from app.protocol.endpoint import realtime_url
from app.protocol.session import SessionConfig
from app.voicelive import notices as nt
from app.voicelive.auth import CredentialProvider
from app.voicelive.reconnect import ReconnectPolicy
from app.voicelive.session import VoiceLiveSession
from tests.helpers import wait_for
from tests.scripted_service import SlowService, serve_slowly
from tests.session_harness import SessionHarness


@pytest.fixture
async def slow_service() -> AsyncIterator[SlowService]:
    async with serve_slowly(SlowService()) as service:
        yield service


async def _run_session(port: int, notices: list[nt.Notice]) -> tuple[VoiceLiveSession, asyncio.Task[None]]:
    session = VoiceLiveSession(SessionConfig(), notices.append)
    url = realtime_url(f"http://127.0.0.1:{port}", api_version="2026-07-15", model="gpt-4o")
    task = asyncio.create_task(session.run(url, CredentialProvider(api_key="k")))
    await wait_for(lambda: session.config.confirmed is not None, timeout=10)
    return session, task


async def test_four_changes_inside_one_round_trip_all_apply(slow_service: SlowService) -> None:
    notices: list[nt.Notice] = []
    session, task = await _run_session(slow_service.port, notices)
    try:
        outcomes = [session.request(nudge("threshold", 0.05, 0.0, 1.0)) for _ in range(4)]  # one loop tick
        await wait_for(lambda: all(o.done() for o in outcomes), timeout=5)
        assert all(o.result().applied for o in outcomes)
        final = slow_service.updates()[-1]["session"]["turn_detection"]["threshold"]
        assert final == pytest.approx(0.50)  # 0.30 + 4 × 0.05: nothing lost
        assert len(slow_service.updates()) == 3  # the first connection's, the first nudge, the other three together
        assert slow_service.most_in_flight() == 1
        confirmed = session.config.confirmed
        assert confirmed is not None and confirmed.turn_detection is not None
        assert confirmed.turn_detection.threshold == pytest.approx(0.50)
    finally:
        await session.close()
        await task


async def test_a_sweep_of_quick_changes_keeps_one_update_in_flight(slow_service: SlowService) -> None:
    notices: list[nt.Notice] = []
    session, task = await _run_session(slow_service.port, notices)
    rng = random.Random(5)
    try:
        for _ in range(12):  # like holding a key: changes arrive faster than the service confirms
            session.request(nudge("threshold", 0.05, 0.0, 1.0))
            await asyncio.sleep(rng.uniform(0.0, 0.06))
        await wait_for(lambda: not session.config.pending, timeout=5)
        assert slow_service.updates()[-1]["session"]["turn_detection"]["threshold"] == pytest.approx(0.90)
        assert slow_service.most_in_flight() == 1
        assert len(slow_service.updates()) < 12
    finally:
        await session.close()
        await task


async def test_a_refusal_rolls_back_to_the_confirmed_value_with_the_reason(slow_service: SlowService) -> None:
    slow_service.refuse_above = 0.37
    notices: list[nt.Notice] = []
    session, task = await _run_session(slow_service.port, notices)
    try:
        first = session.request(nudge("threshold", 0.05, 0.0, 1.0))  # 0.35: accepted
        await wait_for(first.done, timeout=5)
        refused = [session.request(nudge("threshold", 0.05, 0.0, 1.0)) for _ in range(3)]  # from 0.40 on: refused
        await wait_for(lambda: all(o.done() for o in refused), timeout=5)
        assert [o.result().applied for o in refused] == [False] * 3
        assert refused[0].result().reason == "threshold too high for us"
        assert session.config.desired.turn_detection is not None
        assert session.config.desired.turn_detection.threshold == pytest.approx(0.35)
        rejected = [n for n in notices if isinstance(n, nt.SessionRejected)]
        assert rejected and rejected[0].param == "session.turn_detection.threshold"
        last_state = [n for n in notices if isinstance(n, nt.ConfigChanged)][-1]
        assert not last_state.pending and last_state.desired == last_state.confirmed
    finally:
        await session.close()
        await task


def _slow_policy() -> ReconnectPolicy:
    return ReconnectPolicy(base_s=0.6, cap_s=0.8, max_attempts=5, rng=random.Random(3))


async def test_a_message_typed_while_disconnected_goes_after_the_update_and_the_replay(
        emulator: EmulatorServer) -> None:
    async with SessionHarness(emulator) as h:
        h.session.connection.policy = _slow_policy()
        h.session.send_text("first message")
        await wait_for(lambda: any(n.status == "completed" for n in h.of(nt.AssistantTurnEnded)), timeout=15)
        await wait_for(lambda: not h.playback.is_playing(), timeout=15)  # heard in full: replayed whole
        emulator.drop_connections()
        await wait_for(lambda: h.session.state == "reconnecting", timeout=5)
        h.session.send_text("typed while offline")
        await wait_for(lambda: len(emulator.sessions) == 2 and h.session.state == "connected", timeout=10)
        await wait_for(lambda: sum(n.status == "completed" for n in h.of(nt.AssistantTurnEnded)) == 2, timeout=15)
        received = [e for e in emulator.sessions[1].received if e["type"] != "input_audio_buffer.append"]
        kinds = [e["type"] for e in received]
        texts = [e["item"]["content"][0]["text"] for e in received if e["type"] == "conversation.item.create"]
        assert kinds[:5] == ["session.update", "conversation.item.create", "conversation.item.create",
                             "conversation.item.create", "response.create"], kinds
        assert texts[0] == "first message" and texts[1].startswith("You typed: first message")
        assert texts[2] == "typed while offline"
        assert "typed while offline" in h.of(nt.AssistantTurnEnded)[-1].text


async def test_a_stale_truncate_is_not_sent_to_the_next_connection(emulator: EmulatorServer) -> None:
    emulator.options.speed = 2.0  # faster than real time: audio is still buffered when the connection drops
    async with SessionHarness(emulator) as h:
        h.session.connection.policy = _slow_policy()
        h.session.send_text("talk for a while")
        await wait_for(lambda: h.of(nt.AssistantTurnStarted) and h.playback.buffered_ms > 100, timeout=15)
        emulator.drop_connections()
        await wait_for(lambda: h.session.state == "reconnecting", timeout=5)
        h.session.interrupt()  # what was left of the old connection's reply: truncate means nothing now
        await wait_for(lambda: any('"conversation.item.truncate"' in f for f in h.session.outbox.queued_control),
                       timeout=2)  # queued once the device has dropped what it held
        await wait_for(lambda: len(emulator.sessions) == 2 and h.session.state == "connected", timeout=10)
        h.session.send_text("and now?")
        await wait_for(lambda: any("and now?" in n.text for n in h.of(nt.AssistantTurnEnded)), timeout=20)
        new = emulator.sessions[1]
        assert not [e for e in new.received if e["type"] in ("conversation.item.truncate", "response.cancel")]
        assert not [e for _, e in new.sent if e["type"] == "error"]
        assert h.session.outbox.dropped_stale_frames >= 1
