"""CPU, memory, event ingest and start-up of the app itself, each against a baseline from the same run."""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.measure import summary

ROOT = Path(__file__).resolve().parents[1]


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


async def cpu_and_memory(turns: int, seconds: float = 6.0) -> list[dict[str, Any]]:
    """The app under tmux with its UI, audio on the virtual devices, against `serve` in another process."""
    import psutil

    if shutil.which("tmux") is None:
        return [summary("cpu_idle", [], "% of one core", note="tmux is not installed: skipped")]
    exe = shutil.which("voicelive-tui", path=str(Path(sys.executable).parent)) or "voicelive-tui"
    with tempfile.TemporaryDirectory() as folder:
        port = 20000 + os.getpid() % 20000
        server = subprocess.Popen([exe, "serve", "--port", str(port), "--api-key", "bench-key", "--speed", "20"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        session = "bench-" + uuid.uuid4().hex[:6]
        env = [arg for k in ("PULSE_SERVER", "PULSE_RUNTIME_PATH", "PULSE_COOKIE") if k in os.environ
               for arg in ("-e", f"{k}={os.environ[k]}")]
        env += ["-e", "AZURE_VOICE_LIVE_API_KEY=bench-key", "-e", f"XDG_DATA_HOME={folder}",
                "-e", f"XDG_CONFIG_HOME={folder}"]
        command = f"exec {exe} --endpoint http://127.0.0.1:{port} --log-file {folder}/app.log"
        await asyncio.sleep(1.0)
        _tmux("new-session", "-d", "-s", session, "-x", "100", "-y", "30", *env, command)
        try:
            pid = int(_tmux("display", "-p", "-t", session, "#{pane_pid}").strip())
            app = psutil.Process(pid)
            for _ in range(100):
                if "connected" in _tmux("capture-pane", "-p", "-t", session):
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(2.0)
            app.cpu_percent(None)
            await asyncio.sleep(seconds)
            idle = app.cpu_percent(None)
            speech = ROOT / "bench" / "results" / ".speech.wav"
            _speech_file(speech)
            player = subprocess.Popen(["bash", "-c", f"while true; do paplay -d vmicsink {speech}; done"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            await asyncio.sleep(2.0)
            app.cpu_percent(None)
            await asyncio.sleep(seconds)
            streaming = app.cpu_percent(None)
            player.kill()
            speech.unlink(missing_ok=True)
            rss_start = app.memory_info().rss
            checkpoints = []
            for n in range(turns):
                _tmux("send-keys", "-t", session, "t")
                _tmux("send-keys", "-t", session, "-l", f"turn {n}: tell me something short")
                _tmux("send-keys", "-t", session, "Enter", "Escape")
                await asyncio.sleep(0.25)
                if (n + 1) % 50 == 0:
                    checkpoints.append(round((app.memory_info().rss - rss_start) / 1e6, 1))
            await asyncio.sleep(2.0)
            rss_end = app.memory_info().rss
        finally:
            _tmux("kill-session", "-t", session)
            server.kill()
    growth = (rss_end - rss_start) / 1e6
    floor = await cpu_floor(seconds)
    return [
        summary("cpu_audio_floor", [floor], "% of one core", None, None,
                phase="two PortAudio streams with empty callbacks, same devices"),
        summary("cpu_idle", [idle], "% of one core", "≤ 3 %", idle <= 3, phase="connected, silent mic, meters on",
                beyond_floor=round(idle - floor, 1)),
        summary("cpu_streaming", [streaming], "% of one core", "≤ 8 %", streaming <= 8,
                phase="speech into the mic, parrot replies out", beyond_floor=round(streaming - floor, 1)),
        summary("rss_growth", [growth], "MB", "< 20 MB", growth < 20, turns=turns,
                rss_start_mb=round(rss_start / 1e6, 1), rss_end_mb=round(rss_end / 1e6, 1),
                growth_every_50_turns_mb=checkpoints),
    ]


def _speech_file(path: Path) -> None:
    from app.audio import SAMPLE_RATE
    from app.audio.wav import write_wav
    from bench.audio_bench import _speechlike

    path.parent.mkdir(parents=True, exist_ok=True)
    write_wav(path, np.concatenate([_speechlike(1.5), np.zeros(SAMPLE_RATE // 2, np.int16)]))


@dataclass
class _Device:
    playback: Any
    muted: bool = False
    barge_in_mode: str = "service"


async def event_ingest(seconds_of_audio: float) -> list[dict[str, Any]]:
    """The emulator streams a long reply as fast as it can; the headless app's loop must keep ticking."""
    from app.audio import SAMPLE_RATE
    from app.audio.playback import PlaybackBuffer
    from app.config import load_settings
    from app.emulator.server import EmulatorOptions, EmulatorServer
    from app.protocol import client_events as ce
    from app.tui import Services, VoiceLiveApp
    from app.widgets.turn import AssistantTurn

    emulator = EmulatorServer(options=EmulatorOptions(speed=10_000, chunk_ms=20))
    with tempfile.TemporaryDirectory() as folder:
        app = VoiceLiveApp(load_settings({("connection", "local"): True}, environ={}),
                           Services(emulator=emulator, audio_error="bench", transcript_dir=folder))
        async with app.run_test(size=(120, 40)) as pilot:
            session = app.session
            while app.main.status.state != "connected" or session.config.confirmed is None:
                await asyncio.sleep(0.05)
            app.control.attach_audio(_Device(PlaybackBuffer(capacity_s=seconds_of_audio + 5)))
            await asyncio.wrap_future(app.control.request(
                lambda config: config.model_copy(update={"turn_detection": None})))
            audio = (np.sin(np.arange(int(seconds_of_audio * SAMPLE_RATE)) * 0.05) * 8000).astype(np.int16)
            import base64

            frames = [ce.InputAudioAppend(audio=base64.b64encode(audio.tobytes()).decode()).to_json(),
                      ce.InputAudioCommit().to_json(), ce.ResponseCreate().to_json()]
            gaps: list[float] = []
            started = time.perf_counter()
            for frame in frames:
                app.control.call(session.outbox.put, frame)
            last = time.perf_counter()
            while not any(t.done for t in session.conversation.turns if t.role == "assistant"):
                await asyncio.sleep(0.01)
                now = time.perf_counter()
                gaps.append((now - last) * 1000)
                last = now
            wall = time.perf_counter() - started
            await pilot.pause()
            turns = len(app.main.query(AssistantTurn))
            deltas = sum(1 for _, e in emulator.sessions[-1].sent if e["type"] == "response.audio.delta")
            await pilot.press("q")
    speedup = seconds_of_audio / wall
    return [
        summary("ingest_speed", [speedup], "× real time", "≥ 20×", speedup >= 20, audio_s=seconds_of_audio,
                deltas=deltas, wall_s=round(wall, 2), turns_drawn=turns),
        summary("ingest_frame_gap", gaps, "ms between 10 ms ticks", "max < 100 ms", max(gaps) < 100,
                worst=round(max(gaps), 1)),
    ]


_APP_START = """
import time; t0 = time.perf_counter()
import asyncio
from app.config import load_settings
from app.tui import Services, VoiceLiveApp
async def main():
    app = VoiceLiveApp(load_settings({("connection", "local"): True}, environ={}), Services(autostart=False))
    async with app.run_test() as pilot:
        await pilot.pause()
        print(time.perf_counter() - t0)
asyncio.run(main())
"""
_MINIMAL_START = """
import time; t0 = time.perf_counter()
import asyncio
from textual.app import App
from textual.widgets import Label
class Minimal(App):
    def compose(self):
        yield Label("hello")
async def main():
    app = Minimal()
    async with app.run_test() as pilot:
        await pilot.pause()
        print(time.perf_counter() - t0)
asyncio.run(main())
"""


async def startup(runs: int) -> list[dict[str, Any]]:
    """Interpreter up → first screen drawn (headless), for the app and for a minimal Textual app, interleaved."""
    ours: list[float] = []
    base: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "XDG_CONFIG_HOME": folder, "XDG_DATA_HOME": folder}
        for _ in range(runs):
            for script, into in ((_APP_START, ours), (_MINIMAL_START, base)):
                proc = await asyncio.create_subprocess_exec(sys.executable, "-c", script, cwd=str(ROOT), env=env,
                                                            stdout=asyncio.subprocess.PIPE)
                out, _ = await proc.communicate()
                into.append(float(out.decode().strip().splitlines()[-1]) * 1000)
    ratio = statistics.median(ours) / statistics.median(base)
    return [summary("startup", ours, "ms to first screen", None, None, minimal_textual_median_ms=round(
        statistics.median(base), 1), ratio=round(ratio, 2))]


async def run_system(runs: int) -> list[dict[str, Any]]:
    results = await startup(max(3, runs // 2))
    results += await event_ingest(60.0 if runs >= 5 else 10.0)
    results += await cpu_and_memory(turns=max(10, runs * 15))
    return results


_STREAMS_ONLY = """
import time, sounddevice as sd
def out(o, f, t, s): o.fill(0)
def inp(i, f, t, s): pass
with sd.OutputStream(samplerate=24000, blocksize=480, channels=1, dtype="int16", callback=out), \\
     sd.InputStream(samplerate=24000, blocksize=480, channels=1, dtype="int16", callback=inp):
    time.sleep(%f)
"""


async def cpu_floor(seconds: float) -> float:
    """CPU of a process that only runs the same two PortAudio streams with empty callbacks: the audio
    stack's own cost (ALSA → PulseAudio plugin threads), which no client can go below."""
    import psutil

    proc = subprocess.Popen([sys.executable, "-c", _STREAMS_ONLY % (seconds + 3)])
    await asyncio.sleep(2.0)
    handle = psutil.Process(proc.pid)
    handle.cpu_percent(None)
    await asyncio.sleep(seconds)
    value = float(handle.cpu_percent(None))
    proc.wait()
    return value
