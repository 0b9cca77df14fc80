"""The benchmark's wire tap against real WebSocket traffic on 127.0.0.1: what the server received is the
independent witness of what the tap must have seen, and a pause the sender makes is a gap it must show."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import struct

import numpy as np
import pytest
import websockets

from bench import wire_tap
from bench.wire_tap import WireTap

needs_tap = pytest.mark.skipif(not wire_tap.available(), reason="reading the loopback interface needs CAP_NET_RAW")

BLOCK = bytes(480)  # 10 ms of 24 kHz PCM16
PAUSE_AFTER = 12
PAUSE_S = 0.25  # far beyond what a busy machine adds to a 10 ms sleep


def _append(block: bytes) -> str:
    return json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(block).decode()})


@needs_tap
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
                await ws.send(json.dumps({"type": "session.update", "pad": "x" * 300_000}))  # several segments, raw
                for index in range(25):
                    await ws.send(_append(BLOCK))
                    await asyncio.sleep(PAUSE_S if index == PAUSE_AFTER else 0.01)
                await asyncio.wait_for(all_in.wait(), 5)
            connection = tap.latest()
            assert connection is not None
            appends = connection.appends()

    assert len(received) == 26
    assert connection.frames[0][1] == "session.update" and connection.complete
    assert len(appends) == 25  # every append the server got, and nothing else
    assert appends[:, 1].tolist() == [240 * (k + 1) for k in range(25)]  # input samples sent so far
    gaps_ms = np.diff(appends[:, 0]) * 1000
    assert gaps_ms[PAUSE_AFTER] >= PAUSE_S * 1000 - 1  # the pause is where the sender made it ...
    assert np.delete(gaps_ms, PAUSE_AFTER).max() < PAUSE_S * 1000 - 1  # ... and only there


@needs_tap
async def test_tap_sees_no_other_port() -> None:
    async def handler(ws: websockets.ServerConnection) -> None:
        async for _ in ws:
            pass

    async with websockets.serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        with socket.socket() as unused:  # a port nothing else can be using
            unused.bind(("127.0.0.1", 0))
            with WireTap(unused.getsockname()[1]) as tap:
                async with websockets.connect(f"ws://127.0.0.1:{port}") as ws:
                    await ws.send(_append(BLOCK))
                    await asyncio.sleep(0.1)
                assert tap.latest() is None


@needs_tap
async def test_tap_times_the_servers_audio_and_its_spread_around_real_time() -> None:
    """Deltas of 20 ms sent in real time, one of them 250 ms late: the spread the tap reports is that lateness."""
    delta = json.dumps({"type": "response.audio.delta", "delta": base64.b64encode(bytes(960)).decode()})

    async def handler(ws: websockets.ServerConnection) -> None:
        start = asyncio.get_running_loop().time()
        for index in range(20):
            due = start + index * 0.02 + (PAUSE_S if index == 10 else 0.0)
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
    assert spread >= PAUSE_S * 1000 - 5  # the one late delta (a busy machine may add, never take away)
    assert int(np.argmax(late)) == 10


# ---------------------------------------------------------------- the stream parser alone (no capture needed)
def _masked_frame(text: str, key: bytes = b"\x01\x02\x03\x04") -> bytes:
    payload = text.encode()
    n = len(payload)
    header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n)
                              if n < 1 << 16 else bytes([0x80 | 127]) + struct.pack(">Q", n))
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


UPGRADE = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def _connection(isn: int) -> wire_tap.Connection:
    connection = wire_tap.Connection(port=50000)
    connection.segment(isn, 0x02, b"", 0.0)  # SYN
    connection.segment((isn + 1) & 0xFFFFFFFF, 0x18, UPGRADE, 0.0)
    return connection


def test_the_stream_survives_sequence_wraparound_retransmissions_and_split_headers() -> None:
    isn = 0xFFFFFFF0  # the sequence numbers wrap inside the stream
    connection = _connection(isn)
    seq = (isn + 1 + len(UPGRADE)) & 0xFFFFFFFF
    stream = _masked_frame(_append(BLOCK)) + _masked_frame(json.dumps({"type": "x", "pad": "y" * 70_000}))
    first, second = stream[:1], stream[1:800]  # the first frame's header split from the rest
    connection.segment(seq, 0x18, first, 1.0)
    connection.segment((seq + 1) & 0xFFFFFFFF, 0x18, second, 2.0)
    connection.segment(seq, 0x18, first + second, 2.5)  # a retransmission of both: nothing new
    connection.segment((seq + 800) & 0xFFFFFFFF, 0x18, stream[800:], 3.0)  # a 64-bit length frame ends here
    assert [(t, kind) for t, kind, _ in connection.frames] == [(2.0, wire_tap.APPEND), (3.0, "x")]
    assert connection.appends().tolist() == [[2.0, 240.0]] and connection.complete


def test_a_missed_segment_ends_the_stream_and_says_so() -> None:
    connection = _connection(1000)
    frame = _masked_frame(_append(BLOCK))
    after = 1001 + len(UPGRADE)
    connection.segment(after + 10, 0x18, frame, 1.0)  # 10 bytes were never seen
    connection.segment(after + 10 + len(frame), 0x18, frame, 2.0)
    assert connection.frames == [] and not connection.complete
