"""Handles on the processes a benchmark runs beside the client: the emulator, the UI-less client, a player.

Each is a separate interpreter (`python -m bench.…` from the checkout), so what it does never shares a
loop or a GIL with what is measured. Times they report are `time.monotonic()`: CLOCK_MONOTONIC, one clock
for every process on the machine.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench import wire_tap
from bench.measure import ROOT
from bench.wire_tap import WireTap

Stats = dict[str, Any]


def above(key: str, than: int, *, also: str | None = None) -> Callable[[Stats], bool]:
    """A stats condition: `key` has grown beyond `than` (and `also` is set)."""
    return lambda stats: stats.get(key, 0) > than and (also is None or bool(stats.get(also)))


def new_session(sessions: int, appends: int = 10) -> Callable[[Stats], bool]:
    """A stats condition: a session after the first `sessions` has received more than `appends` appends."""
    return lambda stats: stats.get("sessions", 0) > sessions and stats.get("appends", 0) > appends


@dataclass
class Reply:
    item_id: str
    first_audio_at: float | None
    sent_samples: int
    status: str
    finished_at: float | None
    audio: npt.NDArray[np.int16]


@dataclass
class SessionRecord:
    """One emulated connection as the emulator saw it."""

    created_at: float
    sent: list[tuple[float, str, str | None]]
    events_in: list[tuple[float, dict[str, Any]]]
    arrivals: npt.NDArray[np.float64]  # (n, 2): monotonic time, input samples after that append
    input_audio: npt.NDArray[np.int16]
    input_offset: int
    speech_started_at: list[float]
    replies: list[Reply] = field(default_factory=list)
    # Like `arrivals`, but when each append LEFT the client's socket (the kernel's packet times: `wire_tap`);
    # None when no tap ran (not root) or it did not see every append the emulator got.
    departures: npt.NDArray[np.float64] | None = None

    @property
    def appends(self) -> tuple[npt.NDArray[np.float64], str]:
        """The appends as the figures use them, and where they were timed."""
        if self.departures is not None:
            return self.departures, "leaving the client's socket (kernel packet times on lo)"
        return self.arrivals, "arriving at the emulator (its event loop's stamps)"

    def first_sent(self, kind: str, item_id: str | None = None, after: float = 0.0) -> float | None:
        return next((t for t, k, i in self.sent if k == kind and t >= after and (item_id is None or i == item_id)),
                    None)

    def truncates(self) -> list[tuple[float, str, int]]:
        return [(t, str(e.get("item_id")), int(e.get("audio_end_ms", -1))) for t, e in self.events_in
                if e.get("type") == "conversation.item.truncate"]

    def input_at(self, sample: int) -> int:
        """Index into `input_audio` of input sample `sample` (counted from the session's start)."""
        return sample - self.input_offset


def load_dump(path: Path) -> list[SessionRecord]:
    data = json.loads(path.read_text())
    audio = np.load(str(path) + ".npz")
    sessions = []
    for index, s in enumerate(data["sessions"]):
        replies = [Reply(r["item_id"], r["first_audio_at"], r["sent_samples"], r["status"], r["finished_at"],
                         audio[f"{index}/reply:{r['item_id']}"]) for r in s["replies"]]
        arrivals = np.array(s["arrivals"], dtype=np.float64).reshape(-1, 2)
        sessions.append(SessionRecord(
            s["created_at"] or 0.0, [(t, k, i) for t, k, i in s["sent"]], [(t, e) for t, e in s["events_in"]],
            arrivals, audio[f"{index}/input"], s["input_offset"], s["speech_started_at"], replies))
    return sessions


class Emulator:
    """`bench.emulator_proc` in its own process, driven by one-line JSON commands."""

    def __init__(self, *args: str, tap: bool = False) -> None:
        self.args = list(args)
        self.want_tap = tap  # also time the appends as they leave the client (`wire_tap`), where permitted
        self.tap: WireTap | None = None
        self.port = 0
        self.api_key = ""
        self.priority = "normal"
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._folder = tempfile.TemporaryDirectory(prefix="bench-emulator-")
        self._dumps = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Emulator:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.emulator_proc", *self.args, cwd=ROOT,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert self._proc.stdout is not None
        line = (await asyncio.wait_for(self._proc.stdout.readline(), 30)).decode().split()
        if not line or line[0] != "READY":
            raise RuntimeError(f"the emulator process did not start: {line}")
        self.port, self.api_key = int(line[1]), line[2]
        self.priority = line[3] if len(line) > 3 else "normal"  # "realtime": its arrival stamps are on time
        if self.want_tap and wire_tap.available():
            self.tap = WireTap(self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.tap is not None:
            await asyncio.to_thread(self.tap.close)
        if self._proc is not None and self._proc.returncode is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                await asyncio.wait_for(self._proc.wait(), 10)
            except asyncio.TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        self._folder.cleanup()

    async def command(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdin is not None and self._proc.stdout is not None
        async with self._lock:
            self._proc.stdin.write(json.dumps(command).encode() + b"\n")
            await self._proc.stdin.drain()
            answer: dict[str, Any] = json.loads(await asyncio.wait_for(self._proc.stdout.readline(), 30))
        return answer

    async def set(self, reply: dict[str, Any] | None = None, **options: Any) -> None:
        await self.command({"set": options, "reply": reply or {}})

    async def stats(self) -> Stats:
        return await self.command({"stats": True})

    async def until(self, condition: Callable[[Stats], bool], timeout: float) -> Stats | None:
        """Poll the newest session's stats until `condition` holds; None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            stats = await self.stats()
            if stats.get("sessions") and condition(stats):
                return stats
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.02)

    async def dump(self) -> list[SessionRecord]:
        self._dumps += 1
        path = Path(self._folder.name) / f"dump{self._dumps}.json"
        await self.command({"dump": str(path)})
        sessions = load_dump(path)
        if self.tap is not None and sessions:  # the newest session is the newest connection that sent audio
            newest, connection = sessions[-1], await asyncio.to_thread(self.tap.latest)
            left = connection.appends() if connection is not None and connection.complete else None
            count = len(newest.arrivals)
            # The tap may be ahead (frames still in flight), never behind; and it must be the same audio.
            if left is not None and len(left) >= count and np.array_equal(left[:count, 1], newest.arrivals[:, 1]):
                newest.departures = left[:count]
        return sessions


async def play(wav: Path, sink: str) -> float | None:
    """Play a WAV on a PulseAudio sink from its own PortAudio process; when its first loud sample was
    handed to PortAudio (monotonic), or None if the player failed."""
    from bench.probe import probe_env

    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.probe", "play", str(wav), cwd=ROOT,
                                                stdout=asyncio.subprocess.PIPE, env=probe_env(PULSE_SINK=sink))
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    for line in out.decode().splitlines():
        if line.startswith("STARTED"):
            return float(line.split()[1])
    return None


class CallbackClient:
    """`bench.callback_client` (the UI-less baseline) in its own process."""

    def __init__(self, endpoint: str, api_key: str, jitter_ms: int = 80) -> None:
        self.args = ["--endpoint", endpoint, "--api-key", api_key, "--jitter-ms", str(jitter_ms)]
        self.proc: asyncio.subprocess.Process | None = None
        self.launched_at = 0.0

    async def __aenter__(self) -> CallbackClient:
        self.launched_at = time.monotonic()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.callback_client", *self.args, cwd=ROOT,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL)
        return self

    async def say(self, text: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(f"say {text}\n".encode())
        await self.proc.stdin.drain()

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()
