"""Resident memory of `voicelive-tui serve` while three clients send 10 MB frames, and after they leave.

Run: `python -m tests.emulator_rss_probe` (prints one JSON line). Not a test: RSS depends on the allocator
(glibc keeps freed arenas), so it is measured and reported, while the test suite asserts on the Python
heap (tracemalloc) instead.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time

import numpy as np
import psutil
from websockets.asyncio.client import connect

from tests.helpers import wait_for

KEY = "probe-key-0123456789"


def _frames() -> list[str]:
    noise = np.random.default_rng(5).integers(-3000, 3000, 3_750_000).astype("<i2")  # 7.5 MB → 10 MB of base64
    append = json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(noise.tobytes()).decode()})
    item = json.dumps({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "w" * 10_000_000}]}})
    return [append, item] * 3


async def _client(port: int, frames: list[str], hold: asyncio.Event, ready: list[int]) -> None:
    url = f"ws://127.0.0.1:{port}/voice-live/realtime?api-version=2026-07-15&model=gpt-4o"
    async with connect(url, additional_headers={"api-key": KEY}, max_size=2**25) as ws:
        for frame in frames:
            await ws.send(frame)
        await ws.send(json.dumps({"type": "session.update", "session": {"instructions": "sync"}}))
        while json.loads(await ws.recv())["type"] != "session.updated":
            pass
        ready.append(1)
        await hold.wait()


async def measure(port: int, server: psutil.Process) -> dict[str, int]:
    mb = 1024 * 1024
    before = server.memory_info().rss / mb
    frames = _frames()
    hold, ready = asyncio.Event(), list[int]()
    clients = asyncio.gather(*(_client(port, frames, hold, ready) for _ in range(3)))
    await wait_for(lambda: len(ready) == 3, timeout=120)
    live = server.memory_info().rss / mb
    hold.set()
    await clients
    await asyncio.sleep(2.0)
    after = server.memory_info().rss / mb
    return {"rss_mb_before": round(before), "rss_mb_three_clients_open": round(live),
            "rss_mb_two_s_after_they_closed": round(after)}


def main() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", "0", "--api-key", KEY],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().split("http://127.0.0.1:")[1].split()[0])
        time.sleep(0.5)
        print(json.dumps(asyncio.run(measure(port, psutil.Process(proc.pid)))))  # noqa: T201
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
