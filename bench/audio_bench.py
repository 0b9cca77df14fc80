"""Audio latencies against the loopback floor, all measured in one run on the virtual devices.

Every figure is a time between two events on the system's monotonic clock, minus the floor: the virtual
devices' own delay from handing audio to PortAudio to seeing it on the other side of a null sink.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.audio import SAMPLE_RATE
from app.audio.engine import AudioEngine
from app.audio.wav import write_wav
from app.emulator.server import EmulatorOptions, EmulatorServer
from app.emulator.voice import tone
from app.protocol.endpoint import realtime_url
from app.protocol.session import SessionConfig, TurnDetection
from app.voicelive import notices as nt
from app.voicelive.auth import CredentialProvider
from app.voicelive.session import VoiceLiveSession
from bench.measure import Recorder, onset_in, play, summary


def _speechlike(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    voiced = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 6))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t) ** 2
    signal = voiced * envelope
    scaled: npt.NDArray[np.float64] = signal / np.max(np.abs(signal)) * 0.3 * 32767
    return scaled.astype(np.int16)


class Client:
    """The app's real audio and session parts, against an in-process emulator."""

    def __init__(self, jitter_ms: int, speed: float, *, create_response: bool = True) -> None:
        self.create_response = create_response
        self.emulator = EmulatorServer(options=EmulatorOptions(speed=speed, keep_closed_sessions=4))
        self.engine = AudioEngine(jitter_ms=jitter_ms)
        self.notices: list[nt.Notice] = []
        self.session: VoiceLiveSession | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Client:
        await self.emulator.start()
        url = realtime_url(self.emulator.endpoint, api_version="2026-07-15", model="gpt-4o")
        config = SessionConfig(turn_detection=TurnDetection(
            type="server_vad", threshold=0.5, silence_duration_ms=300, prefix_padding_ms=100,
            create_response=None if self.create_response else False))
        self.session = VoiceLiveSession(config, self.notices.append)
        self.session.attach_audio(self.engine)
        self._task = asyncio.create_task(self.session.run(url, CredentialProvider(api_key=self.emulator.api_key)))
        while self.session.config.confirmed is None:
            await asyncio.sleep(0.02)
        self.engine.start(asyncio.get_running_loop(), self.session.submit_audio)
        await asyncio.sleep(0.5)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.engine.stop()
        assert self.session is not None and self._task is not None
        await self.session.close()
        await asyncio.wait_for(self._task, 5)
        await self.emulator.stop()

    def playing_ms(self) -> int:
        item = self.session.tracker.playing_item if self.session is not None else None
        return self.engine.playback.played_ms(item) if item is not None else 0

    @property
    def server_session(self) -> Any:
        return self.emulator.sessions[-1]

    async def until(self, predicate: Any, timeout: float = 15) -> None:
        for _ in range(int(timeout / 0.01)):
            if predicate():
                return
            await asyncio.sleep(0.01)
        raise TimeoutError(f"benchmark step timed out: {predicate}")

    def ended(self) -> int:
        return sum(isinstance(n, nt.AssistantTurnEnded) for n in self.notices)


async def loopback_floor(runs: int, tmp: Path) -> dict[str, Any]:
    """Player → vmicsink → vmicsink.monitor → recorder: the devices' own delay."""
    wav = tmp / "click.wav"
    write_wav(wav, np.concatenate([np.zeros(SAMPLE_RATE // 2, np.int16), tone(0.2, 1000, 0.5)]))
    delays = []
    for run in range(runs):
        async with Recorder("vmicsink.monitor", 2.0, tmp / f"floor{run}.npz") as rec:
            handed = await play(wav, "vmicsink")
        heard = rec.load().first_loud(handed - 0.3)
        if heard is not None:
            delays.append((heard - handed) * 1000)
    return summary("loopback_floor", delays, "ms", note="output handoff → input capture through a null sink")


async def first_audio(runs: int, tmp: Path, floor_ms: float, jitter_ms: int = 80) -> dict[str, Any]:
    """Emulator sends the first audio delta → that audio is on vspeaker.monitor, minus the floor."""
    values = []
    async with Client(jitter_ms, speed=4.0) as client, Recorder("vspeaker.monitor", runs * 3.0 + 2,
                                                               tmp / "first.npz") as rec:
        assert client.session is not None
        for run in range(runs):
            client.session.send_text(f"run {run}")
            await client.until(lambda run=run: client.ended() > run)
            await client.until(lambda: not client.engine.playback.is_playing(), 20)
            await asyncio.sleep(0.3)
    recording = rec.load()
    for reply in list(client.server_session.replies.values())[:runs]:
        audio = np.frombuffer(bytes(reply.audio), dtype="<i2")
        heard = recording.first_loud(reply.first_audio_at)
        if heard is not None:
            values.append((heard - reply.first_audio_at - onset_in(audio) / SAMPLE_RATE) * 1000 - floor_ms)
    goal = jitter_ms + 10
    return summary("first_audio", values, "ms beyond floor", f"≤ {goal} ms (jitter {jitter_ms} + 10)",
                   bool(values) and np.median(values) <= goal)


async def mic_to_wire(runs: int, tmp: Path, floor_ms: float) -> dict[str, Any]:
    """A marker played into the mic → the append carrying it reaches the emulator, minus the floor."""
    wav = tmp / "marker.wav"
    marker = np.concatenate([np.zeros(SAMPLE_RATE // 2, np.int16), _speechlike(0.3), np.zeros(SAMPLE_RATE, np.int16)])
    write_wav(wav, marker)
    values = []
    async with Client(80, speed=50.0) as client:
        for _ in range(runs):
            server = client.server_session
            seen = server.vad.position
            handed = await play(wav, "vmicsink")
            await asyncio.sleep(0.3)
            audio = np.frombuffer(bytes(server.input_audio), dtype="<i2")
            base = server.input_offset
            onset = seen + onset_in(audio[seen - base :])
            arrival = next((t for t, end in server.input_arrivals if end > onset), None)
            if arrival is not None:
                values.append((arrival - handed) * 1000 - floor_ms)
            await asyncio.sleep(0.5)
    return summary("mic_to_wire", values, "ms beyond floor", "≤ 25 ms", bool(values) and np.median(values) <= 25)


async def _long_tone_reply(text: str) -> tuple[str, np.ndarray]:
    return "a long steady tone", tone(6.0, 440, 0.3)


async def barge_in(runs: int, tmp: Path, floor_ms: float) -> list[dict[str, Any]]:
    """Speech during a reply: speech_started leaves the emulator → reply audio stops; and the truncation error.

    The reply is a steady tone (no pauses, unlike speech), so where it stops in the recording is unambiguous.
    """
    from app.emulator import message_output as emulated

    original, emulated.reply_for_text = emulated.reply_for_text, _long_tone_reply  # type: ignore[attr-defined]
    try:
        return await _barge_in(runs, tmp, floor_ms)
    finally:
        emulated.reply_for_text = original  # type: ignore[attr-defined]


async def _barge_in(runs: int, tmp: Path, floor_ms: float) -> list[dict[str, Any]]:
    wav = tmp / "interrupt.wav"
    write_wav(wav, np.concatenate([np.zeros(SAMPLE_RATE // 2, np.int16), _speechlike(0.5),
                                   np.zeros(SAMPLE_RATE // 2, np.int16)]))
    stop_ms, errors, over = [], [], 0
    # The interruption itself is not answered (create_response off), so the recording holds only the replies.
    async with Client(80, speed=1.25, create_response=False) as client, Recorder("vspeaker.monitor", runs * 4.5 + 2,
                                                        tmp / "barge.npz") as rec:
        assert client.session is not None
        for run in range(runs):
            client.session.send_text(f"please talk for a good while, run number {run}, so I can interrupt you")
            await client.until(lambda: client.playing_ms() > 600)
            await play(wav, "vmicsink")
            await client.until(lambda run=run: client.ended() > run)
            await asyncio.sleep(1.0)
    recording = rec.load()
    server = client.server_session
    for reply, spoke in zip(list(server.replies.values()), server.speech_started_at, strict=False):
        if reply.truncated_at_ms is None or reply.first_audio_at is None:
            continue
        stopped = recording.last_loud(spoke - 1.0, spoke + 1.0)
        began = recording.first_loud(reply.first_audio_at)
        if stopped is None or began is None:
            continue
        stop_ms.append((stopped - spoke) * 1000 - floor_ms)
        audio = np.frombuffer(bytes(reply.audio), dtype="<i2")
        audible_ms = (stopped - began) * 1000 + onset_in(audio) * 1000 / SAMPLE_RATE
        errors.append(reply.truncated_at_ms - audible_ms)
        over += reply.truncated_at_ms > len(audio) * 1000 // SAMPLE_RATE
    return [
        summary("barge_in", stop_ms, "ms beyond floor", "≤ 30 ms", bool(stop_ms) and np.median(stop_ms) <= 30),
        summary("truncation_error", errors, "ms (sent − audible)", "|error| ≤ 20 ms, never beyond received",
                bool(errors) and max(abs(e) for e in errors) <= 20 and over == 0, beyond_received=over),
    ]


async def run_audio(runs: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        floor = await loopback_floor(runs, tmp)
        floor_ms = float(floor["median"] or 0.0)
        results = [floor, await first_audio(runs, tmp, floor_ms), await mic_to_wire(runs, tmp, floor_ms)]
        results += await barge_in(runs, tmp, floor_ms)
    return results
