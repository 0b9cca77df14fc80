"""A long reply heard without a gap: the installed app in tmux plays a 3-minute reply while its log
streams Markdown and the meters run, with the emulator's deltas 20 ms each and ±30 ms of network jitter.

What counts is the recording, not the app's own counters: the reply is white noise that is never exactly
zero, so every run of zero samples between its first and last sample at the speaker is a gap a listener
heard (an underrun of the jitter buffer or of the device). The app's own count (the "audio stopped" line
of its log) is printed beside, as a cross-check, with each gap's time on the log's clock and the log's
full garbage collections (how long each held the interpreter). So is the sender's part (`wire_tap`, where permitted):
how far the deltas strayed from real time as they left the emulator, beyond the ±30 ms it injects on
purpose (it is a Python process; its own stalls add to that), and when they strayed further than the
app's jitter buffer holds.

    python -m bench.underruns [--seconds 180]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.audio import SAMPLE_RATE
from app.config import AudioSettings
from bench.measure import summary
from bench.procs import Emulator, above, new_session
from bench.tui import THIS_APP, TuiApp, kill_server
from bench.wire_tap import DELTA, spread_ms
from tests.audio_harness import TimedRecorder, gap_spans, gaps_in

SPEAKER = "vspeaker.monitor"
JITTER_MS = int(AudioSettings.model_fields["jitter_ms"].default)  # the app's default jitter target
APP_COUNTS = re.compile(r"audio stopped: (\d+) output underruns \((\d+) in the jitter buffer; target now (\d+) ms\)")
STRETCHED = re.compile(r"(\d+) blocks played 1 frame slower")


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def heard_seconds(samples: npt.NDArray[np.int16]) -> float:
    """From the reply's first sample at the speaker to its last: silence or a reply cut short is no pass."""
    loud = np.flatnonzero(samples)
    return 0.0 if len(loud) < 2 else float(loud[-1] - loud[0]) / SAMPLE_RATE


async def _quit_and_read_log(app: TuiApp) -> str:
    """Quit as a user does and read the app's log before its folder goes (the counters are said at close)."""
    await app.quit()
    text = await asyncio.to_thread(_read, Path(app.folder.name, "app.log"))
    app.folder.cleanup()
    return text


async def long_reply(seconds: float = 180.0) -> list[dict[str, Any]]:
    gaps: list[float] = []
    gap_clock: list[str] = []
    failure = ""
    app_said = "the app's log had no \"audio stopped\" line"
    sender: dict[str, Any] = {"sender": "not observed (the wire tap needs CAP_NET_RAW)"}
    async with Emulator("--text-reply", "markdown", "--reply-s", str(seconds), "--speed", "1", "--chunk-ms", "20",
                        "--net-jitter-ms", "30", tap=True) as emulator:
        before = (await emulator.stats()).get("sessions", 0)
        app = TuiApp.voicelive(THIS_APP, emulator.endpoint, emulator.api_key)
        await app.start()
        try:
            if await emulator.until(new_session(before), 30) is None:
                failure = "the app never sent microphone audio to the emulator"
            else:
                speaker = TimedRecorder(SPEAKER)
                await speaker.wait_started()
                done = (await emulator.stats())["replies_done"]
                await app.type_message("one long answer, please")
                finished = await emulator.until(above("replies_done", done), seconds + 60)
                await asyncio.sleep(1.0)  # the jitter buffer and the device play out
                recording = speaker.stop()
                if finished is None:
                    failure = "the reply did not finish"
                else:
                    gaps = gaps_in(recording.samples)
                    gap_clock = _wall_clock([recording.time_of(first) for first, _ in gap_spans(recording.samples)])
                    heard_s = heard_seconds(recording.samples)
                    failure = "" if heard_s >= 0.95 * seconds else f"only {heard_s:.1f} s of the reply was heard"
                    sender = await _sender(emulator)
        finally:
            text = await _quit_and_read_log(app)
            if counts := APP_COUNTS.findall(text):  # the last close's (the counters only grow)
                underruns, in_buffer, target = counts[-1]
                app_said = (f"{underruns} device underruns, {in_buffer} in the jitter buffer "
                            f"(its target grew to {target} ms)")
            if stretched := STRETCHED.findall(text):
                app_said += f", {stretched[-1]} blocks played 1 frame slower for the speaker's clock"
    collections = [line for line in text.splitlines() if "full garbage collection" in line]
    values = [float(len(gaps))] if not failure else []
    return [summary("gaps_in_long_reply", values, "gaps heard", f"0 over a {seconds:.0f} s reply",
                    (len(gaps) == 0) if values else False, failures=[failure] if failure else None,
                    subject="voicelive-tui", gap_ms=gaps[:20], gap_at=gap_clock[:20], app_counters=app_said,
                    app_collections=collections[:20], **sender,
                    event="runs of exact zeros inside a noise reply, in the speaker's recording")]


def _wall_clock(times: list[float]) -> list[str]:
    """Monotonic times as the log's clock reads them (HH:MM:SS.mmm), to line gaps up with what it says."""
    offset = time.time() - time.monotonic()
    return [datetime.fromtimestamp(t + offset).strftime("%H:%M:%S.%f")[:-3] for t in times]


async def _sender(emulator: Emulator) -> dict[str, Any]:
    """The reply's deltas as they left the emulator (one reply on this connection): their spread around real
    time, and when they came later than the default jitter target beyond the earliest: a gap there is the
    sender's."""
    if emulator.tap is None:
        return {"sender": "not observed (the wire tap needs CAP_NET_RAW)"}
    connection = await asyncio.to_thread(emulator.tap.latest, DELTA)
    sent = sum(kind == DELTA for _, kind, _ in (await emulator.dump())[-1].sent)
    deltas = connection.appends(DELTA) if connection is not None and connection.complete else np.zeros((0, 2))
    if len(deltas) != sent:
        return {"sender": f"not observed (the tap saw {len(deltas)} of the {sent} deltas sent)"}
    spread, late = spread_ms(deltas, SAMPLE_RATE)
    beyond = deltas[late > JITTER_MS, 0] - deltas[0, 0] if len(deltas) else np.zeros(0)
    return {"sender_spread_ms": round(spread, 1),
            f"sender_late_beyond_{JITTER_MS}ms_at_s": [round(float(t), 2) for t in beyond[:10]],
            "sender": "response.audio.delta frames timed by the kernel as they left the emulator"}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.underruns")
    parser.add_argument("--seconds", type=float, default=180.0)
    args = parser.parse_args()
    try:
        for result in asyncio.run(long_reply(args.seconds)):
            print(json.dumps(result))
    finally:
        kill_server()


if __name__ == "__main__":
    main()
