"""Resilience: reconnects with the session restored, the session cap, fuzzed frames, handshake failures."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import random
import shutil
import socket
import ssl
import time
from functools import partial
from http import HTTPStatus
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.server import serve

from app.conversation import Turn
from app.emulator.server import EmulatorOptions, EmulatorServer
from app.protocol.endpoint import Credentials, realtime_url
from app.protocol.session import SessionConfig
from app.voicelive import notices as nt
from app.voicelive.auth import CredentialProvider
from app.voicelive.connection import ConnectError, open_connection
from app.voicelive.reconnect import ReconnectPolicy
from app.voicelive.session import VoiceLiveSession
from tests.helpers import silence, speechlike, wait_for
from tests.scripted_service import SlowService, serve_slowly
from tests.session_harness import SessionHarness
from tests.test_events import SAMPLES, _mangle


def fast_policy() -> ReconnectPolicy:
    return ReconnectPolicy(base_s=0.02, cap_s=0.1, max_attempts=5, rng=random.Random(7))


def _creates(session: object) -> list[dict[str, Any]]:
    return [e for e in session.received if e["type"] == "conversation.item.create"]  # type: ignore[attr-defined]


def _as_heard(turn: Turn) -> str:
    """A reply cut by barge-in is remembered as far as it was heard (its word timestamps say where)."""
    if turn.interrupted_at_ms is None:
        return turn.text
    return turn.heard_text(turn.interrupted_at_ms) or turn.text


def _reply_started(h: SessionHarness, turns: list[Turn]) -> bool:
    return any(t.role == "assistant" and not t.done for t in turns) or bool(h.of(nt.AssistantTurnEnded))


def _reconnected(h: SessionHarness, emulator: EmulatorServer, before: int, instructions: str) -> bool:
    return (len(emulator.sessions) == before + 1 and h.session.connection.connections == before + 1
            and h.emulated.session.get("instructions") == instructions)


def _replayed(session: object, count: int) -> bool:
    return len(_creates(session)) >= count


async def test_twenty_drops_at_random_points_restore_config_and_context(emulator: EmulatorServer) -> None:
    rng = random.Random(2024)
    async with SessionHarness(emulator) as h:
        h.session.connection.policy = fast_policy()
        config_payload = h.session.config.desired.to_payload("2026-07-15")
        phases = []
        for n in range(20):
            phase = rng.choice(["idle", "mid-reply", "mid-utterance"])
            phases.append(phase)
            before = len(emulator.sessions)
            if phase == "mid-reply":
                h.session.send_text(f"message {n}")
                turns = h.session.conversation.turns
                await wait_for(partial(_reply_started, h, turns), timeout=10)
            elif phase == "mid-utterance":
                await h.stream(np.concatenate([silence(0.1), speechlike(0.3, seed=n)]))
                await asyncio.sleep(0.05)
            completed = [t for t in h.session.conversation.turns if t.done and t.text]
            emulator.drop_connections()
            await wait_for(partial(_reconnected, h, emulator, before, config_payload["instructions"]), timeout=10)
            new = h.emulated
            await wait_for(partial(_replayed, new, len(completed)), timeout=5)
            replayed = [e["item"]["content"][0]["text"] for e in _creates(new)][: len(completed)]
            assert replayed == [_as_heard(t) for t in completed], (n, phase)
            update = next(e for e in new.received if e["type"] == "session.update")
            assert update["session"] == config_payload
            if phase == "mid-utterance":
                await h.stream(np.concatenate([speechlike(0.3, seed=n), silence(0.6)]))
        assert h.session.connection.connections == 21
        states = [n.state for n in h.of(nt.ConnectionChanged)]
        assert states.count("reconnecting") >= 20 and "failed" not in states
        # the session still works, and the log holds every turn once
        h.session.send_text("after all that")
        await wait_for(lambda: h.session.conversation.turns[-1].role == "assistant"
                       and h.session.conversation.turns[-1].status == "completed"
                       and "after all that" in h.session.conversation.turns[-1].text, timeout=15)
        ids = [t.item_id for t in h.session.conversation.turns]
        assert len(ids) == len(set(ids))
        assert not any(t.role == "user" and t.text.startswith("You typed") for t in h.session.conversation.turns)
        assert set(phases) == {"idle", "mid-reply", "mid-utterance"}


async def test_a_planned_reconnect_beats_the_session_cap() -> None:
    options = EmulatorOptions(session_cap_s=4.0, keep_closed_sessions=8)
    async with EmulatorServer(options=options) as server, SessionHarness(server) as h:
        h.session.connection.policy = fast_policy()
        h.session.send_text("remember me")
        await wait_for(lambda: h.of(nt.AssistantTurnEnded), timeout=10)
        await wait_for(lambda: len(server.sessions) == 2, timeout=8)
        first = server.sessions[0]
        await wait_for(lambda: first.close_code is not None, timeout=3)
        assert first.close_code == 1000  # we closed it, on purpose, before the cap
        assert not any(e[1]["type"] == "error" for e in first.sent)  # the cap never hit us
        await wait_for(lambda: len(_creates(server.sessions[1])) == 2, timeout=5)
        assert _creates(server.sessions[1])[0]["item"]["content"][0]["text"] == "remember me"


async def test_ten_thousand_fuzzed_frames_then_a_normal_turn(emulator: EmulatorServer) -> None:
    rng = random.Random(99)
    kinds = sorted(SAMPLES)
    frames = []
    for n in range(10_000):
        choice = n % 5
        if choice == 0:
            frames.append(_mangle(rng, rng.choice(kinds), dict(SAMPLES[rng.choice(kinds)])))
        elif choice == 1:  # valid shape, random item ids: events for items that do not exist, out of order
            kind = rng.choice(kinds)
            frames.append(json.dumps({"type": kind, **SAMPLES[kind]}))
        elif choice == 2:  # undecodable or odd-length audio for an unknown item
            frames.append(json.dumps({"type": "response.audio.delta", "item_id": f"ghost{n}",
                                      "delta": rng.choice(["%%%", "QUJD", base64.b64encode(b"x").decode()])}))
        elif choice == 3:
            frames.append(json.dumps(rng.choice([[], 1, None, "x", {"type": None}, {"type": {"a": 1}}])))
        else:
            frames.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 30))).decode("latin-1"))
    async with SessionHarness(emulator) as h:
        await emulator.send_raw(frames)
        await wait_for(lambda: h.session.connection.frames_received >= 10_000, timeout=60)
        assert h.session.connection.connections == 1  # nothing ended the connection
        h.session.send_text("are you still there?")
        await wait_for(lambda: any(n.status == "completed" and "still there" in n.text
                                   for n in h.of(nt.AssistantTurnEnded)), timeout=15)
        assert h.session.stats()["ignored"]  # they were counted, once each kind in the log


async def test_a_huge_frame_is_refused_and_the_session_reconnects(emulator: EmulatorServer) -> None:
    async with SessionHarness(emulator) as h:
        h.session.connection.policy = fast_policy()
        await emulator.send_raw([json.dumps({"type": "warning", "warning": {"message": "x" * (17 * 1024 * 1024)}})])
        await wait_for(lambda: h.session.connection.connections == 2, timeout=10)
        h.session.send_text("hello again")
        await wait_for(lambda: any(n.status == "completed" for n in h.of(nt.AssistantTurnEnded)), timeout=15)


async def test_giving_up_says_so_and_how_to_retry(emulator: EmulatorServer) -> None:
    async with SessionHarness(emulator) as h:
        h.session.connection.policy = ReconnectPolicy(base_s=0.01, cap_s=0.02, max_attempts=3)
        await emulator.stop()
        emulator.drop_connections()
        await wait_for(h.failed, timeout=10)
        detail = h.failed()[0].detail
        assert "Gave up reconnecting after 3 attempts" in detail and "press r" in detail
        assert [n.attempt for n in h.of(nt.ConnectionChanged) if n.state == "reconnecting"][-1] == 3


async def test_a_requested_close_never_reconnects(emulator: EmulatorServer) -> None:
    async with SessionHarness(emulator) as h:
        h.session.connection.policy = fast_policy()
    await asyncio.sleep(0.3)
    assert len(emulator.sessions) == 1 and h.session.connection.connections == 1
    assert emulator.sessions[0].close_code == 1000


def test_backoff_grows_with_jitter_and_respects_retry_after_and_the_rate_limit() -> None:
    now = [0.0]
    policy = ReconnectPolicy(base_s=0.5, cap_s=8.0, rng=random.Random(1), clock=lambda: now[0])
    delays = [policy.delay(n) for n in range(1, 8)]
    for n, d in enumerate(delays, start=1):
        backoff = min(8.0, 0.5 * 2 ** (n - 1))
        assert backoff / 2 <= d <= backoff
    assert policy.delay(1, retry_after=12.0) == 12.0
    for _ in range(30):
        policy.note_attempt()
        now[0] += 0.5
    assert 44 < policy.rate_limit_wait() <= 60.01  # 30 in the last 15 s: wait for the oldest to age out
    assert policy.delay(1) >= 44
    now[0] += 60
    assert policy.rate_limit_wait() == 0.0


# ---------------------------------------------------------------------------- handshake failures
async def _no_session(ws: object) -> None:
    return None


async def _status_server(status: int, headers: dict[str, str] | None = None) -> tuple[object, int]:
    def reply(connection, request):  # type: ignore[no-untyped-def]
        response = connection.respond(HTTPStatus(status), "no\n")
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response

    server = await serve(_no_session, "127.0.0.1", 0, process_request=reply)
    return server, next(iter(server.sockets)).getsockname()[1]


@pytest.mark.parametrize(
    ("status", "fragment"),
    [(401, "HTTP 401"), (403, "HTTP 403"), (404, "HTTP 404"), (429, "HTTP 429"), (400, "HTTP 400"),
     (302, "redirect"), (500, "HTTP 500")],
)
async def test_http_failures_map_to_sentences(status: int, fragment: str) -> None:
    server, port = await _status_server(status, {"Retry-After": "7", "Location": "ws://elsewhere.invalid/"})
    try:
        with pytest.raises(ConnectError) as info:
            await open_connection(realtime_url(f"http://127.0.0.1:{port}", api_version="v", model="m"),
                                  Credentials(api_key="secret-key-123"))
    finally:
        server.close()  # type: ignore[attr-defined]
    message = str(info.value)
    assert fragment in message and "secret-key-123" not in message and message.endswith(".")
    assert info.value.status == status
    if status == 429:
        assert info.value.retry_after == 7.0


async def test_network_failures_map_to_sentences() -> None:
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    cases = [
        (f"http://127.0.0.1:{port}", "connection refused"),
        ("https://no-such-resource.invalid/", "could not be found (DNS)"),
    ]
    async with EmulatorServer() as emulator:
        cases.append((f"https://127.0.0.1:{emulator.port}", "TLS handshake"))  # TLS to a plain socket
        for endpoint, fragment in cases:
            with pytest.raises(ConnectError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
                await open_connection(realtime_url(endpoint, api_version="v", model="m"), Credentials(api_key="k"))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
async def test_an_untrusted_certificate_is_a_tls_sentence(tmp_path: Path) -> None:
    openssl = await asyncio.create_subprocess_exec(
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
        "-keyout", str(tmp_path / "k.pem"), "-out", str(tmp_path / "c.pem"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    assert await openssl.wait() == 0
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    server = await serve(_no_session, "127.0.0.1", 0, ssl=context)
    port = next(iter(server.sockets)).getsockname()[1]
    try:
        with pytest.raises(ConnectError, match=r"TLS handshake with 127\.0\.0\.1:[0-9]+ failed"):
            await open_connection(realtime_url(f"https://127.0.0.1:{port}", api_version="v", model="m"),
                                  Credentials(api_key="k"))
    finally:
        server.close()


async def test_a_server_that_is_not_voice_live() -> None:
    async def http_only(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(http_only, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        with pytest.raises(ConnectError, match=r"HTTP 200|did not answer as a Voice Live"):
            await open_connection(realtime_url(f"http://127.0.0.1:{port}", api_version="v", model="m"),
                                  Credentials(api_key="k"))



@pytest.mark.parametrize("expires_in_s", [-7200.0, -time.time(), math.nan], ids=["two-hours-ago", "zero", "nan"])
async def test_an_expiry_already_past_by_our_clock_does_not_reconnect_in_a_loop(expires_in_s: float) -> None:
    """A service clock behind ours (or ours ahead: a machine set to the wrong time zone) says the session
    expired before it began; a planned reconnect then came every half second, replaying the conversation."""
    async with serve_slowly(SlowService(delay_s=0.0)) as service:
        service.created = {"expires_at": time.time() + expires_in_s}
        session = VoiceLiveSession(SessionConfig(), lambda notice: None)
        url = realtime_url(service.endpoint, api_version="2026-07-15", model="gpt-4o")
        task = asyncio.create_task(session.run(url, CredentialProvider(api_key="k")))
        try:
            await wait_for(lambda: session.config.confirmed is not None, timeout=10)
            await asyncio.sleep(2.0)  # a window in which the loop reconnected three or four times
            assert service.connections == 1
        finally:
            await session.close()
            await task


async def test_a_close_during_the_handshake_closes_the_new_socket_with_1000() -> None:
    """Quit while connecting: the socket that opens after the close was asked for is closed at once, with
    1000, and the run ends — not served until the app's shutdown gives up on it and drops it."""
    service = SlowService(delay_s=0.0)
    handshake_started = asyncio.Event()
    close_codes: list[int | None] = []

    async def slow_handshake(ws: Any, request: Any) -> None:
        handshake_started.set()
        await asyncio.sleep(0.3)

    async def handler(ws: Any) -> None:
        await service.handler(ws)
        close_codes.append(ws.close_code)

    async with serve(handler, "127.0.0.1", 0, process_request=slow_handshake) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        session = VoiceLiveSession(SessionConfig(), lambda notice: None)
        url = realtime_url(f"http://127.0.0.1:{port}", api_version="2026-07-15", model="gpt-4o")
        task = asyncio.create_task(session.run(url, CredentialProvider(api_key="k")))
        await asyncio.wait_for(handshake_started.wait(), timeout=5)
        await session.close()
        await asyncio.wait_for(task, timeout=2)  # ends once the handshake completes (0.3 s), not later
        await wait_for(lambda: close_codes, timeout=5)
        assert close_codes == [1000]
        assert service.updates() == []  # nothing was sent on a socket nobody wanted
