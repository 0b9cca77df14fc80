"""The emulator's timing behaves like the service's: a lagging VAD, small audio chunks paced in (scaled)
real time, and optional network jitter that reorders nothing.
"""

from __future__ import annotations

import base64
import itertools
import time

import numpy as np

from app.audio import SAMPLE_RATE
from app.emulator.server import EmulatorOptions, EmulatorServer
from tests.helpers import silence, speechlike
from tests.raw_client import RawClient

BLOCK = SAMPLE_RATE // 50  # 20 ms appends


async def _trigger_blocks(c: RawClient, pcm: np.ndarray) -> dict[str, int]:
    """Send 20 ms appends, each followed by a marker the server answers in order; return, per VAD event, the
    index of the append whose processing emitted it (so the lag is measured on the input timeline)."""
    for n, start in enumerate(range(0, len(pcm), BLOCK)):
        await c.send({"type": "input_audio_buffer.append",
                      "audio": base64.b64encode(pcm[start : start + BLOCK].tobytes()).decode()})
        await c.send({"type": "conversation.item.retrieve", "item_id": f"marker-{n}", "event_id": f"m{n}"})
    last = f"m{len(pcm) // BLOCK - 1}"
    while not any(e.get("error", {}).get("event_id") == last for e in c.events if e["type"] == "error"):
        await c.until("error")
    found: dict[str, int] = {}
    block = 0
    for event in c.events:
        if event["type"] == "error" and str(event["error"].get("event_id", "")).startswith("m"):
            block = int(event["error"]["event_id"][1:]) + 1
        elif event["type"].startswith("input_audio_buffer.speech_"):
            found.setdefault(event["type"].rsplit(".", 1)[1], block)
            found.setdefault(event["type"].rsplit(".", 1)[1] + "_ms",
                             int(event.get("audio_start_ms", event.get("audio_end_ms")) or 0))
    return found


async def test_the_vad_reports_speech_late_by_the_configured_input_time() -> None:
    turn = np.concatenate([silence(0.3), speechlike(0.8), silence(1.5)])
    seen = {}
    for delay in (0, 500):
        async with EmulatorServer(options=EmulatorOptions(vad_delay_ms=delay)) as server, RawClient(server) as c:
            await c.update(turn_detection={"type": "server_vad", "silence_duration_ms": 300, "prefix_padding_ms": 100,
                                           "create_response": False})
            seen[delay] = await _trigger_blocks(c, turn)
    assert seen[0]["speech_started_ms"] == seen[500]["speech_started_ms"] == 200  # the audio timeline
    assert seen[0]["speech_stopped_ms"] == seen[500]["speech_stopped_ms"]
    for kind in ("speech_started", "speech_stopped"):
        assert (seen[500][kind] - seen[0][kind]) * 20 == 500, (kind, seen)


async def test_reply_audio_comes_in_small_chunks_paced_at_the_configured_speed() -> None:
    options = EmulatorOptions(speed=2.0, chunk_ms=20)
    async with EmulatorServer(options=options) as server, RawClient(server) as c:
        await c.send({"type": "response.create"})  # no input: the reply is a 0.8 s tone
        arrivals: list[tuple[float, int]] = []
        while True:
            event = await c.until("response.audio.delta", "response.done")
            if event["type"] == "response.done":
                break
            arrivals.append((time.monotonic(), len(base64.b64decode(event["delta"])) // 2))
    sizes = [n for _, n in arrivals]
    assert max(sizes) == SAMPLE_RATE * 20 // 1000 and all(n > 0 for n in sizes)
    audio_s = sum(sizes) / SAMPLE_RATE
    span = arrivals[-1][0] - arrivals[0][0]
    # Paced, not dumped: the last chunk cannot leave before its audio time at 2x (less one chunk).
    assert span >= (audio_s - 0.02) / 2.0 * 0.95, (span, audio_s)


async def test_network_jitter_moves_deltas_in_time_but_never_reorders_them() -> None:
    gaps: dict[int, list[float]] = {}
    for jitter in (0, 30):
        options = EmulatorOptions(speed=1.0, chunk_ms=40, net_jitter_ms=jitter, keep_closed_sessions=1)
        async with EmulatorServer(options=options) as server:
            async with RawClient(server) as c:
                await c.send({"type": "response.create"})
                times: list[float] = []
                received = bytearray()
                while (event := await c.until("response.audio.delta", "response.done"))["type"] != "response.done":
                    times.append(time.monotonic())
                    received.extend(base64.b64decode(event["delta"]))
            reply = next(iter(server.sessions[-1].replies.values()))
            assert bytes(received) == bytes(reply.audio)  # every chunk, in order
        gaps[jitter] = [(b - a) * 1000 for a, b in itertools.pairwise(times)]
    spread = max(gaps[30]) - min(gaps[30])
    assert spread > 25, gaps[30]  # chunks bunch up and spread out
    assert np.mean(gaps[30]) > 25  # ...around the same 40 ms pace


async def test_a_jitter_seed_gives_every_reply_the_same_offsets() -> None:
    """Paired benchmark runs: the app and the baseline client each get the same jitter for run N."""

    async def departures(seed: int) -> list[float]:
        options = EmulatorOptions(speed=1.0, chunk_ms=40, net_jitter_ms=30, jitter_seed=seed)
        async with EmulatorServer(options=options) as server, RawClient(server) as c:
            await c.send({"type": "response.create"})
            times: list[float] = []
            while (await c.until("response.audio.delta", "response.done"))["type"] != "response.done":
                times.append(time.monotonic())
        return [(b - a) * 1000 for a, b in itertools.pairwise(times)]

    first, again, other = await departures(7), await departures(7), await departures(8)
    same = float(np.median(np.abs(np.subtract(first, again))))  # the loops' own noise (a few ms; 7 on a busy CPU)
    apart = float(np.median(np.abs(np.subtract(first, other))))  # two draws of ±30 ms: ~15-20 ms
    assert same < apart / 2, (same, apart, first, again, other)


async def test_speed_and_chunking_can_change_while_connected(emulator: EmulatorServer) -> None:
    async with RawClient(emulator) as c:
        emulator.options.chunk_ms = 25
        await c.send({"type": "response.create"})
        delta = await c.until("response.audio.delta")
        assert len(base64.b64decode(delta["delta"])) == 2 * SAMPLE_RATE * 25 // 1000
        await c.until("response.done")
