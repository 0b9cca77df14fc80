"""The emulator under hostile and careless clients: credentials, bounded memory, bad input that must not
crash a connection, and responses that always end.
"""

from __future__ import annotations

import asyncio
import base64
import json
import tracemalloc
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from app.emulator import message_output
from app.emulator.server import EmulatorOptions, EmulatorServer
from tests.helpers import wait_for
from tests.raw_client import RawClient

PATH = "/voice-live/realtime?api-version=2026-07-15&model=gpt-4o"
FIVE_KEYS = {"type", "code", "message", "param", "event_id"}


async def _status(server: EmulatorServer, query: str = "", headers: dict[str, str] | None = None) -> int:
    """101 when the handshake succeeds, else the HTTP status the emulator answered with."""
    try:
        async with connect(f"ws://127.0.0.1:{server.port}{PATH}{query}", additional_headers=headers or {}) as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


async def test_a_key_server_refuses_bearer_tokens_unless_told_to_accept_them() -> None:
    async with EmulatorServer(api_key="the-key") as server:
        assert await _status(server, headers={"api-key": "the-key"}) == 101
        assert await _status(server, "&api-key=the-key") == 101
        assert await _status(server, headers={"api-key": "not-the-key"}) == 401
        assert await _status(server, headers={"Authorization": "Bearer anything"}) == 401
        assert await _status(server, "&Authorization=Bearer%20anything") == 401
        assert await _status(server) == 401
    async with EmulatorServer(api_key="the-key", options=EmulatorOptions(accept_any_token=True)) as server:
        assert await _status(server, headers={"Authorization": "Bearer anything"}) == 101
        assert await _status(server, "&Authorization=Bearer%20anything") == 101
        assert await _status(server, headers={"Authorization": "Bearer "}) == 401  # empty token
    async with EmulatorServer(api_key="the-key", options=EmulatorOptions(bearer_token="tok-1")) as server:
        assert await _status(server, headers={"Authorization": "Bearer tok-1"}) == 101
        assert await _status(server, headers={"Authorization": "Bearer tok-2"}) == 401


async def test_a_non_ascii_key_is_refused_with_401(emulator: EmulatorServer) -> None:
    assert await _status(emulator, "&api-key=%C3%A9") == 401
    assert await _status(emulator, "&api-key=%FF%FE") == 401
    assert await _status(emulator, headers={"api-key": "test-key-0123456789"}) == 101  # still serving


async def test_closed_sessions_are_forgotten_unless_a_test_keeps_them() -> None:
    async with EmulatorServer() as server:
        for _ in range(3):
            async with RawClient(server):
                assert len(server.sessions) == 1
        await wait_for(lambda: not server.sessions, timeout=5)
    async with EmulatorServer(options=EmulatorOptions(keep_closed_sessions=2)) as server:
        ids = []
        for _ in range(3):
            async with RawClient(server) as c:
                ids.append(c.events[0]["session"]["id"])
            await wait_for(lambda: server.sessions[-1].close_code is not None, timeout=5)
        assert [s.session["id"] for s in server.sessions] == ids[1:]


async def test_connections_beyond_the_cap_are_refused_with_503() -> None:
    async with EmulatorServer(options=EmulatorOptions(max_connections=2)) as server:
        async with RawClient(server), RawClient(server) as second:
            with pytest.raises(InvalidStatus) as info:
                async with RawClient(server):
                    pass
            assert info.value.response.status_code == 503
            assert b"2 concurrent connections" in info.value.response.body
            await second.update(instructions="the others are unaffected")
        await wait_for(lambda: not server.connections, timeout=5)
        async with RawClient(server) as again:
            assert again.events[0]["type"] == "session.created"


@pytest.mark.parametrize(
    ("session", "param", "code"),
    [
        ({"voice": {"type": "azure-standard", "name": "x" * 10_000}}, "session.voice.name", "string_above_max_length"),
        ({"tools": [{"type": "function", "name": f"f{n}", "description": "d" * 9_000, "parameters": {}}
                    for n in range(110)]}, "session.tools", "string_above_max_length"),
        ({"tools": [{"type": "function", "name": f"f{n}"} for n in range(200)]}, "session.tools",
         "array_above_max_length"),
        ({"turn_detection": {"type": "server_vad", "speech_duration_ms": 1e15}},
         "session.turn_detection.speech_duration_ms", "integer_above_max_value"),
        ({"max_response_output_tokens": 10**9}, "session.max_response_output_tokens", "integer_above_max_value"),
        ({"instructions": "i" * 200_000}, "session.instructions", "string_above_max_length"),
        ({"metadata": {f"k{n}": "v" for n in range(17)}}, "session.metadata", "object_above_max_size"),
    ],
)
async def test_session_update_sizes_and_ranges_are_bounded(emulator: EmulatorServer, session: dict[str, Any],
                                                           param: str, code: str) -> None:
    async with RawClient(emulator) as c:
        await c.send({"type": "session.update", "event_id": "evt-client-1", "session": session})
        error = (await c.until("session.updated", "error"))
        assert error["type"] == "error", error
        assert set(error["error"]) >= FIVE_KEYS
        assert (error["error"]["param"], error["error"]["code"], error["error"]["event_id"]) == (
            param, code, "evt-client-1")
        assert error["error"]["type"] == "invalid_request_error" and error["error"]["message"]
        assert len(json.dumps(error)) < 2_000  # the error does not echo the oversized value
        assert (await c.update(instructions="fine"))["type"] == "session.updated"


async def test_hostile_frames_get_an_error_each_and_the_session_goes_on(emulator: EmulatorServer) -> None:
    async with RawClient(emulator) as c:
        assert c.ws is not None
        bad: list[tuple[str | bytes, str | None]] = [
            ("[" * 100_000, None),
            ('{"type": "session.update", "session": ' + '{"a":' * 5_000 + "1" + "}" * 5_001, None),
            (json.dumps({"type": "conversation.item.delete", "item_id": ["x"]}), "item_id"),
            (json.dumps({"type": "conversation.item.retrieve", "item_id": {"a": 1}}), "item_id"),
            (json.dumps({"type": "conversation.item.truncate", "item_id": [1], "audio_end_ms": 0,
                         "content_index": 0}), "item_id"),
            (json.dumps({"type": "conversation.item.create", "previous_item_id": {"a": 1},
                         "item": {"type": "message", "role": "user", "content": []}}), "previous_item_id"),
            (json.dumps({"type": "conversation.item.create",
                         "item": {"id": ["x"], "type": "message", "role": "user", "content": []}}), "item.id"),
            (json.dumps({"type": "response.cancel", "response_id": {"x": 1}}), "response_id"),
            (json.dumps({"type": "input_audio_buffer.clear", "event_id": [1, 2]}), "event_id"),
            (b"\xff\xfe not utf-8", None),
        ]
        for frame, param in bad:
            await c.ws.send(frame)
            error = await c.until("error")
            assert set(error["error"]) >= FIVE_KEYS, error
            assert error["error"]["param"] == param, (frame[:60], error)
        await c.send({"type": "session.update", "event_id": None, "session": {"instructions": "null ids are fine"}})
        assert (await c.until("session.updated", "error"))["type"] == "session.updated"
        assert (await c.update(instructions="still alive"))["session"]["instructions"] == "still alive"


async def test_an_item_with_string_content_never_leaves_a_response_hanging(emulator: EmulatorServer) -> None:
    async with RawClient(emulator) as c:
        await c.send({"type": "conversation.item.create",
                      "item": {"type": "message", "role": "user", "content": "hello"}})
        error = await c.until("error", "conversation.item.created")
        assert error["type"] == "error" and error["error"]["param"] == "item.content"
        await c.send({"type": "response.create"})
        done = await c.until("response.done")
        assert done["response"]["status"] in ("completed", "failed")


async def test_a_response_that_fails_still_ends_with_response_done(emulator: EmulatorServer,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(source: Any) -> Any:
        raise RuntimeError("synthesis exploded")

    monkeypatch.setattr(message_output, "reply_content", broken)
    async with RawClient(emulator) as c:
        await c.send({"type": "response.create"})
        done = await c.until("response.done")
        assert done["response"]["status"] == "failed"
        details = done["response"]["status_details"]
        assert details["type"] == "failed" and details["error"]["type"] == "server_error"
        assert "exploded" not in json.dumps(details)  # internals stay in the emulator's log
        await c.send({"type": "response.cancel"})  # nothing is left running
        assert (await c.until("error"))["error"]["code"] == "response_cancel_not_active"


async def test_ten_megabyte_frames_leave_no_memory_behind() -> None:
    """Three connections each send 10 MB frames (audio, an oversized item, many items); the Python heap
    (tracemalloc, independent of what the emulator reports) stays bounded while they are open and returns
    to where it was when they close.
    """
    noise = np.random.default_rng(5).integers(-3000, 3000, 3_750_000).astype("<i2")  # 7.5 MB ≈ 156 s
    append = json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(noise.tobytes()).decode()})
    big_item = json.dumps({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "w" * 10_000_000}]}})
    small_item = json.dumps({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "w" * 150_000}]}})
    async with EmulatorServer() as server:
        async with RawClient(server):
            pass  # warm up imports and caches before measuring
        await wait_for(lambda: not server.sessions, timeout=5)
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]

            synced: list[int] = []
            measured = asyncio.Event()

            async def one() -> None:
                async with RawClient(server) as c:
                    assert c.ws is not None
                    for frame in (append, append, big_item, *[small_item] * 150):
                        await c.ws.send(frame)
                    await c.send({"type": "session.update", "session": {"instructions": "sync"}})
                    await c.until("session.updated", timeout=60)  # every frame before it was handled
                    c.events.clear()  # the client's copies are not the server's
                    synced.append(1)
                    await measured.wait()

            clients = asyncio.gather(one(), one(), one())
            await wait_for(lambda: len(synced) == 3, timeout=60)
            live = tracemalloc.get_traced_memory()[0] - base
            measured.set()
            await clients
            await wait_for(lambda: not server.sessions, timeout=5)
            after = tracemalloc.get_traced_memory()[0] - base
        finally:
            tracemalloc.stop()
    mb = 1024 * 1024
    assert live < 3 * 25 * mb, f"{live / mb:.0f} MB held while open"  # each: 60 s of audio, 16 MB of items
    assert after < 4 * mb, f"{after / mb:.0f} MB left after closing"


async def test_a_client_that_quits_mid_reply_is_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    """A user quitting while the reply plays closes the socket under a streaming response: the emulator
    records the reply as cancelled and logs no traceback (it did, twice, for every such quit)."""
    async with EmulatorServer(options=EmulatorOptions(speed=0.5)) as server:
        async with RawClient(server) as client:
            await client.send({"type": "conversation.item.create", "item": {
                "type": "message", "role": "user", "content": [{"type": "input_text", "text": "talk a while"}]}})
            await client.send({"type": "response.create"})
            await client.until("response.audio.delta")
        session = server.sessions[-1] if server.sessions else None
        await wait_for(lambda: session is None or all(r.finished_at for r in session.conversation.replies.values()))
    assert [r.getMessage() for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []
