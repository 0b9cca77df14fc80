"""Signals, recordings and waits shared by the tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.audio import SAMPLE_RATE
from app.audio.wav import read_wav, write_wav


def speechlike(seconds: float = 1.5, *, level: float = 0.3, seed: int = 1) -> npt.NDArray[np.int16]:
    """Syllable-like bursts (harmonics under a 4 Hz envelope): loud enough for any VAD, never periodic."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t) ** 2
    signal: npt.NDArray[np.float64] = voiced * envelope + 0.05 * rng.standard_normal(len(t))
    ramp = SAMPLE_RATE // 50
    signal[:ramp] *= np.linspace(0, 1, ramp)
    signal[-ramp:] *= np.linspace(1, 0, ramp)
    scaled: npt.NDArray[np.float64] = signal / np.max(np.abs(signal)) * level * 32767
    return scaled.astype(np.int16)


def silence(seconds: float) -> npt.NDArray[np.int16]:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.int16)


def spoken_wav(path: Path, text: str = "Hello there, this is a test of the voice client.") -> Path:
    """espeak-ng speech at 24 kHz when available, else a speech-like signal; either way a real WAV."""
    raw = path.with_suffix(".raw.wav")
    if shutil.which("espeak-ng") and subprocess.run(["espeak-ng", "-w", str(raw), text], check=False).returncode == 0:
        samples = read_wav(raw)
    else:
        samples = speechlike(2.0)
    write_wav(path, np.concatenate([samples, silence(0.3)]))
    return path


def correlation(reference: npt.NDArray[np.int16], recording: npt.NDArray[np.int16]) -> tuple[int, float]:
    """Best lag of `reference` inside `recording` and the normalised correlation there (1.0 = identical)."""
    ref = reference.astype(np.float64)
    rec = recording.astype(np.float64)
    if len(rec) < len(ref):
        rec = np.concatenate([rec, np.zeros(len(ref) - len(rec))])
    n = 1 << int(np.ceil(np.log2(len(rec) + len(ref))))
    corr = np.fft.irfft(np.fft.rfft(rec, n) * np.conj(np.fft.rfft(ref, n)), n)[: len(rec) - len(ref) + 1]
    lag = int(np.argmax(corr))
    window = rec[lag : lag + len(ref)]
    denom = np.sqrt(np.sum(ref * ref) * np.sum(window * window))
    return lag, float(corr[lag] / denom) if denom else 0.0


def pulse_env() -> dict[str, str]:
    return {**os.environ}


class Recorder:
    """Records a PulseAudio source (e.g. vspeaker.monitor) to a WAV file with parec."""

    def __init__(self, path: Path, device: str = "vspeaker.monitor") -> None:
        self.path = path
        self.started = time.monotonic()
        self._proc = subprocess.Popen(
            ["parec", "-d", device, "--rate=24000", "--channels=1", "--format=s16le", "--file-format=wav",
             str(path)],
            env=pulse_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def stop(self) -> npt.NDArray[np.int16]:
        self._proc.terminate()
        self._proc.wait(timeout=5)
        return read_wav(self.path)


async def play_into_mic(path: Path) -> None:
    """Play a WAV into vmicsink (the app's default microphone hears it), without blocking the loop."""
    proc = await asyncio.create_subprocess_exec("paplay", "-d", "vmicsink", str(path), env=pulse_env())
    assert await asyncio.wait_for(proc.wait(), timeout=30) == 0


async def wait_for(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.02) -> None:
    """Await until `predicate()` is truthy; fail the test with a clear message on timeout.

    A predicate that raises (a widget not mounted yet) counts as not yet true; the last error is
    reported if time runs out.
    """
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            if predicate():
                return
        except Exception as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {predicate} (last error: {last!r})")
        await asyncio.sleep(interval)


class SoftwareSpeaker:
    """Drains a PlaybackBuffer every 20 ms like an output callback would, recording what it played."""

    def __init__(self, buffer: object) -> None:
        from app.audio.playback import PlaybackBuffer

        assert isinstance(buffer, PlaybackBuffer)
        self.buffer = buffer
        self.played: list[npt.NDArray[np.int16]] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        from app.audio import BLOCK_FRAMES

        next_at = time.monotonic()
        while True:
            out = np.zeros(BLOCK_FRAMES, dtype=np.int16)
            self.buffer.fill(out)
            self.played.append(out)
            next_at += 0.02
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def recording(self) -> npt.NDArray[np.int16]:
        return np.concatenate(self.played) if self.played else np.zeros(0, dtype=np.int16)


class TmuxApp:
    """The installed command in a real terminal (tmux), read the way a person reads it: the screen.

    Every wait polls the screen for a condition, with a deadline, and fails with the last screen.
    """

    def __init__(self, command: str, *, env: dict[str, str] | None = None, size: tuple[int, int] = (100, 30)) -> None:
        import uuid

        self.name = "vl-" + uuid.uuid4().hex[:8]
        env_args = [arg for key, value in (env or {}).items() for arg in ("-e", f"{key}={value}")]
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(size[0]), "-y", str(size[1]),
                        *env_args, command], check=True)

    def screen(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True,
                              text=True).stdout

    def pid(self) -> int:
        return int(subprocess.run(["tmux", "display", "-p", "-t", self.name, "#{pane_pid}"], capture_output=True,
                                  text=True, check=True).stdout.strip())

    def wait_for(self, predicate: Callable[[str], object], timeout: float = 20.0, what: str = "") -> str:
        """Poll the screen until `predicate(screen)` is truthy; return that screen."""
        deadline = time.monotonic() + timeout
        screen = self.screen()
        while not predicate(screen):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}:\n{screen}")
            time.sleep(0.1)
            screen = self.screen()
        return screen

    def wait_for_text(self, text: str, timeout: float = 20.0) -> str:
        return self.wait_for(lambda screen: text in screen, timeout, repr(text))

    def press(self, *keys: str) -> None:
        """Send keys one per send-keys call, as a person types them."""
        for key in keys:
            subprocess.run(["tmux", "send-keys", "-t", self.name, key], check=True)

    def type(self, text: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, "-l", text], check=True)

    def press_until(self, key: str, text: str, tries: int = 5, timeout: float = 3.0) -> str:
        """Press `key` until `text` shows (a key pressed in the app's first seconds can be lost)."""
        for _ in range(tries - 1):
            self.press(key)
            try:
                return self.wait_for_text(text, timeout)
            except AssertionError:
                continue
        self.press(key)
        return self.wait_for_text(text, timeout)

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], check=False, capture_output=True)


def may_run_realtime() -> bool:
    """Whether this process may put a thread at the app's real-time priority: asked the way the app asks
    (`claim_realtime`), on a thread of its own, which then ends."""
    from app.audio.priority import claim_realtime

    allowed: list[bool] = []
    thread = threading.Thread(target=lambda: allowed.append(claim_realtime()))
    thread.start()
    thread.join()
    return allowed[0]
