"""The benchmark's wire tap against real WebSocket traffic on 127.0.0.1: what the server received is the
independent witness of what the tap must have seen, and a pause the sender makes is a gap it must show."""

from __future__ import annotations

import asyncio
import base64
import json

import numpy as np
import pytest
import websockets

from bench import wire_tap
from bench.wire_tap import WireTap

pytestmark = pytest.mark.skipif(not wire_tap.available(), reason="reading the loopback interface needs CAP_NET_RAW")

BLOCK = bytes(480)  # 10 ms of 24 kHz PCM16
PAUSE_AFTER = 12


def _append(block: bytes) -> str:
    return json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(block).decode()})


@pytest.mark.parametrize("compression", [None, "deflate"])
async def test_tap_times_each_append_as_it_leaves(compression: str | None) -> None:
    received: list[str] = []
    all_in = asyncio.Event()

    async def handler(ws: websockets.ServerConnection) -> None:
        async for message in ws:
            received.append(str(message))
            if len(received) == 26:
                all_in.set()

    async with websockets.serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        with WireTap(port) as tap:
            async with websockets.connect(f"ws://127.0.0.1:{port}", compression=compression) as ws:
                await ws.send(json.dumps({"type": "session.update", "pad": "x" * 300_000}))  # many segments
                for index in range(25):
                    await ws.send(_append(BLOCK))
                    await asyncio.sleep(0.07 if index == PAUSE_AFTER else 0.01)
                await asyncio.wait_for(all_in.wait(), 5)
            connection = tap.latest()
            assert connection is not None
            appends = connection.appends()

    assert len(received) == 26
    assert connection.types[0] == "session.update"
    assert len(appends) == 25  # every append the server got, and nothing else
    assert appends[:, 1].tolist() == [240 * (k + 1) for k in range(25)]  # input samples sent so far
    gaps_ms = np.diff(appends[:, 0]) * 1000
    assert gaps_ms[PAUSE_AFTER] >= 69  # the pause is where the sender made it ...
    assert np.delete(gaps_ms, PAUSE_AFTER).max() < 69  # ... and only there


async def test_tap_sees_no_other_port() -> None:
    async def handler(ws: websockets.ServerConnection) -> None:
        async for _ in ws:
            pass

    async with websockets.serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        with WireTap(port + 1 if port < 65535 else port - 1) as tap:
            async with websockets.connect(f"ws://127.0.0.1:{port}") as ws:
                await ws.send(_append(BLOCK))
                await asyncio.sleep(0.1)
            assert tap.latest() is None


async def test_tap_times_the_servers_audio_and_its_spread_around_real_time() -> None:
    """Deltas of 20 ms sent in real time, one of them 60 ms late: the spread the tap reports is that lateness."""
    delta = json.dumps({"type": "response.audio.delta", "delta": base64.b64encode(bytes(960)).decode()})

    async def handler(ws: websockets.ServerConnection) -> None:
        start = asyncio.get_running_loop().time()
        for index in range(20):
            due = start + index * 0.02 + (0.06 if index == 10 else 0.0)
            await asyncio.sleep(max(0.0, due - asyncio.get_running_loop().time()))
            await ws.send(delta)
        await ws.wait_closed()

    async with websockets.serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        with WireTap(port) as tap:
            async with websockets.connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
                for _ in range(20):
                    await asyncio.wait_for(ws.recv(), 5)
            connection = tap.latest(wire_tap.DELTA)
    assert connection is not None and not connection.from_client
    deltas = connection.appends(wire_tap.DELTA)
    assert deltas[:, 1].tolist() == [480 * (k + 1) for k in range(20)]
    spread, late = wire_tap.spread_ms(deltas, 24000)
    assert spread >= 55  # the one late delta (a busy machine may add, never take away)
    assert int(np.argmax(late)) == 10
