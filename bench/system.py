"""CPU, start-up and memory of the installed app, each beside a baseline measured in the same run.

CPU is sampled from outside (`psutil`, all of a process's threads) in `window_s` windows, one per run:
idle (connected, silent microphone, meters running) and streaming both ways (speech looped into the
microphone, the emulator playing each turn back); beside a process that runs only the same two PortAudio
streams (the audio stack's own cost, which no client goes below) and the UI-less client doing the same.
Start-up is the time from asking tmux to run the app to its first screen showing in the pane, beside a
minimal Textual app started the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bench.heard import espeak_or_speechlike
from bench.measure import ROOT, Runs, compare
from bench.probe import MINIMAL_READY
from bench.procs import CallbackClient, Emulator, new_session
from bench.tui import THIS_APP, TuiApp

APP_READY = "Quit"  # the key footer: the first screen has been drawn


async def _sample_cpu(pid: int, windows: int, window_s: float) -> Runs:
    import psutil

    runs = Runs()
    try:
        process = psutil.Process(pid)
        process.cpu_percent(None)
        for _ in range(windows):
            await asyncio.sleep(window_s)
            runs.add(float(process.cpu_percent(None)))
    except psutil.Error as exc:
        runs.fail(f"the process went away ({type(exc).__name__})")
    return runs


@contextlib.asynccontextmanager
async def _talking(speech: Path) -> AsyncIterator[None]:
    """Speech looped into the microphone's sink until the block ends."""

    async def loop() -> None:
        while True:
            proc = await asyncio.create_subprocess_exec("paplay", "-d", "vmicsink", str(speech))
            try:
                await proc.wait()
            finally:
                if proc.returncode is None:
                    proc.terminate()
                    await proc.wait()

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def cpu(runs: int, tmp: Path, window_s: float = 2.0) -> list[dict[str, Any]]:
    speech = espeak_or_speechlike(tmp / "talk.wav", "Talking to the app to keep both directions streaming.",
                                  lead_s=0.1, tail_s=0.4)
    figures: dict[str, Runs] = {}
    async with Emulator("--speed", "1", "--speech-reply", "parrot") as emulator:
        for kind in ("app", "client"):
            before = (await emulator.stats()).get("sessions", 0)
            app = client = None
            if kind == "app":
                app = TuiApp.voicelive(THIS_APP, emulator.endpoint, emulator.api_key)
                await app.start()
                pid = app.pid
            else:
                client = await CallbackClient(emulator.endpoint, emulator.api_key).__aenter__()
                assert client.proc is not None
                pid = client.proc.pid
            try:
                if await emulator.until(new_session(before, 20), 30) is None:
                    figures[f"{kind}_idle"] = figures[f"{kind}_streaming"] = Runs(failures=["it never connected"])
                    continue
                await asyncio.sleep(1.0)
                figures[f"{kind}_idle"] = await _sample_cpu(pid, runs, window_s)
                async with _talking(speech):
                    await asyncio.sleep(2.0)
                    figures[f"{kind}_streaming"] = await _sample_cpu(pid, runs, window_s)
            finally:
                if app is not None:
                    await app.stop()
                if client is not None:
                    await client.__aexit__(None, None, None)
    streams = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.probe", "streams",
                                                   str(runs * window_s + 3), cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    assert streams.stdout is not None
    await asyncio.wait_for(streams.stdout.readline(), 20)
    await asyncio.sleep(1.0)
    floor = await _sample_cpu(streams.pid, runs, window_s)
    await streams.wait()
    floor_figure = floor.figure("cpu_audio_streams_only", "% of one core", subject="two PortAudio streams, "
                                "empty callbacks (the audio stack's own cost)")
    out = [floor_figure]
    for phase, goal in (("idle", 3.0), ("streaming", 8.0)):
        ours = figures[f"app_{phase}"].figure(
            f"cpu_{phase}", "% of one core", f"≤ {goal:g} %", figures[f"app_{phase}"].at_most(goal, "median"),
            subject="voicelive-tui", floor=floor_figure["median"],
            phase="connected, silent microphone, meters on" if phase == "idle"
            else "speech into the microphone, each turn played back")
        out.append(compare(ours, figures[f"client_{phase}"].figure("", ""), "UI-less callback client"))
    return out


async def startup(runs: int) -> list[dict[str, Any]]:
    """tmux asked to run it → its first screen in the pane, for the app and a minimal Textual app, interleaved."""
    ours, minimal = Runs(), Runs()
    missed: list[str] = []  # what each run without a first screen left behind
    async with Emulator() as emulator:
        for _ in range(runs):
            app = TuiApp.voicelive(THIS_APP, emulator.endpoint, emulator.api_key)
            launched = await app.start()
            seen = await app.wait_for(APP_READY, timeout=30, every=0.005)
            ours.add(None if seen is None else (seen - launched) * 1000, "no first screen within 30 s")
            if seen is None:
                missed.append(await app.diagnose())
            await app.stop()
            plain = TuiApp([sys.executable, "-m", "bench.probe", "minimal"], env={"PYTHONPATH": str(ROOT)})
            launched = await plain.start()
            seen = await plain.wait_for(MINIMAL_READY, timeout=30, every=0.005)
            minimal.add(None if seen is None else (seen - launched) * 1000, "no first screen within 30 s")
            await plain.stop(quit_key="ctrl+q")
    baseline = minimal.figure("startup_minimal_textual", "ms to first screen", subject="a minimal Textual app")
    return [compare(ours.figure("startup", "ms to first screen", subject="voicelive-tui", missed=missed), baseline,
                    "a minimal Textual app"), baseline]


async def memory(runs: int) -> list[dict[str, Any]]:
    """RSS growth from turn 100 to turn 400 (`bench/memory_bench.py`), one run per ten latency runs."""
    from bench.memory_bench import run_memory

    results: list[dict[str, Any]] = await run_memory(max(1, runs // 10), 400, 100)
    for result in results:  # in this module's terms: every run accounted for, failed ones with why
        result.setdefault("subject", "voicelive-tui")
        result["runs"] = len(result.get("values", [])) + int(result.get("failed_runs") or 0)
        if result.get("failed_runs") and not result.get("failures"):
            result["failures"] = {"the run exited with an error (see per_run)": result["failed_runs"]}
    return results


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
