"""`voicelive-tui serve`: its flags reach the emulator, it says which are active, and bad values are one
sentence with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus


@pytest.fixture
def served() -> Iterator[tuple[int, str]]:
    """`serve` with several flags, in its own process: (port, the Options line it printed)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", "0", "--api-key", "k-123", "--accept-any-token",
         "--vad-delay-ms", "300", "--chunk-ms", "20", "--net-jitter-ms", "30", "--max-connections", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        where, _, options = (proc.stdout.readline() for _ in range(3))
        yield int(where.split("http://127.0.0.1:")[1].split()[0]), options
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_serve_flags_take_effect_and_are_listed(served: tuple[int, str]) -> None:
    port, options = served
    for expected in ("20 ms chunks", "VAD delay 300 ms", "up to 1 connections", "any bearer token accepted",
                     "network jitter ±30 ms"):
        assert expected in options, options
    url = f"ws://127.0.0.1:{port}/voice-live/realtime?api-version=2026-07-15&model=gpt-4o"
    async with connect(url, additional_headers={"Authorization": "Bearer whatever"}) as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"
        with pytest.raises(InvalidStatus) as info:
            async with connect(url, additional_headers={"api-key": "k-123"}):
                pass
        assert info.value.response.status_code == 503


def test_serve_refuses_out_of_range_values_in_one_sentence() -> None:
    for flag, value in (("--port", "99999"), ("--vad-delay-ms", "-5"), ("--chunk-ms", "lots"), ("--speed", "0")):
        done = subprocess.run([sys.executable, "-m", "app", "serve", flag, value], capture_output=True, text=True,
                              timeout=30)
        assert done.returncode == 2, (flag, done.stderr)
        assert "Traceback" not in done.stderr and f"argument {flag}:" in done.stderr.splitlines()[-1]
