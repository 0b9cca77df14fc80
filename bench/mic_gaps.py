"""An unbroken microphone: gaps between `input_audio_buffer.append` frames as they LEAVE the client.

Each run is one whole session of one client, from its launch: a typed turn answered with a Markdown reply
that streams into the log, a spoken turn (speech played into the virtual microphone) answered by playing
it back, another typed turn — turns end, widgets are built, Markdown renders and the meters redraw while
the microphone keeps sending. Each append is timed by the kernel as it leaves the client's socket
(`wire_tap`, where the benchmark may read the loopback interface: root or CAP_NET_RAW); otherwise by the
emulator as it arrives, which also counts the emulator's own stalls (a Python process pacing replies: its
stamps were seen 46 ms apart for appends sent 10 ms apart). `observed` in the figures says which;
`max_at_emulator` gives the emulator's view beside it, run by run.

Three clients in the same run, interleaved: this app (full TUI in tmux), the app as it was before this
round (the checkout at `BEFORE_APP`, same emulator), and the UI-less callback client.

Per run: `max` and `p99` of the gaps ending from the connection's first second on (`session.created` +
1 s) until the client is told to quit, and `startup`: the longest gap ending in the connection's first
2 s (the first screen, opening the devices, the first configuration).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.heard import espeak_or_speechlike
from bench.measure import Runs, compare, percentile
from bench.procs import CallbackClient, Emulator, SessionRecord, above, new_session, play
from bench.tui import BEFORE_APP, THIS_APP, TuiApp

SESSION_S = 12.0  # from the connection to quitting
SUBJECTS = {"app": "voicelive-tui", "before": "voicelive-tui before this round (afac862)",
            "client": "UI-less callback client"}


@dataclass
class GapRuns:
    longest: Runs = field(default_factory=Runs)
    p99: Runs = field(default_factory=Runs)
    startup: Runs = field(default_factory=Runs)
    first_append_ms: list[float] = field(default_factory=list)
    worst: list[str] = field(default_factory=list)  # per run: when the longest gap came, and after what
    emulator_priority: str = "normal"  # "realtime": the stamping emulator was never kept waiting for a core
    observed: set[str] = field(default_factory=set)  # where the appends were timed (`SessionRecord.appends`)
    at_emulator: list[float] = field(default_factory=list)  # per run: the longest gap as the emulator stamped it

    def fail(self, why: str) -> None:
        for runs in (self.longest, self.p99, self.startup):
            runs.fail(why)


async def _session(kind: str, emulator: Emulator, speech: Path, session_s: float) -> tuple[float, str | None]:
    """One client's session, scripted; returns when it was told to quit, and why it failed (or None)."""
    before = (await emulator.stats()).get("sessions", 0)
    app: TuiApp | None = None
    client: CallbackClient | None = None
    say: Callable[[str], Awaitable[Any]]
    if kind == "client":
        client = await CallbackClient(emulator.endpoint, emulator.api_key).__aenter__()
        say = client.say
    else:
        app = TuiApp.voicelive(THIS_APP if kind == "app" else BEFORE_APP, emulator.endpoint, emulator.api_key)
        await app.start()
        say = app.type_message
    try:
        if await emulator.until(new_session(before, 5), 30) is None:
            return time.monotonic(), "no microphone audio reached the emulator within 30 s"
        started = time.monotonic()
        await asyncio.sleep(1.0)
        for step in ("typed", "spoken", "typed"):
            done = (await emulator.stats())["replies_done"]
            if step == "typed":
                await say("show me some Markdown")
            else:
                await play(speech, "vmicsink")
            if await emulator.until(above("replies_done", done), 15) is None:
                return time.monotonic(), f"the {step} turn got no reply within 15 s"
        await asyncio.sleep(max(0.0, started + session_s - time.monotonic()))
        return time.monotonic(), None
    finally:
        if app is not None:
            await app.stop()
        if client is not None:
            await client.__aexit__(None, None, None)


def _steady_max(arrivals: npt.NDArray[np.float64], created_at: float, until: float) -> float:
    times = arrivals[arrivals[:, 0] <= until, 0]
    gaps = np.diff(times) * 1000
    steady = gaps[times[1:] >= created_at + 1.0]
    return float(steady.max()) if len(steady) else float("nan")


def _add_gaps(figures: GapRuns, session: SessionRecord, until: float) -> None:
    created_at = session.created_at
    appends, observed = session.appends
    times = appends[appends[:, 0] <= until, 0]
    if len(times) < 10:
        figures.fail("fewer than 10 appends arrived")
        return
    gaps = np.diff(times) * 1000
    ends = times[1:]
    steady = gaps[ends >= created_at + 1.0]
    early = gaps[ends < created_at + 2.0]
    if not len(steady):
        figures.fail("no appends after the connection's first second")
        return
    figures.observed.add(observed)
    figures.at_emulator.append(round(_steady_max(session.arrivals, created_at, until), 2))
    figures.longest.add(float(steady.max()))
    figures.p99.add(percentile([float(g) for g in steady], 99))
    figures.startup.add(float(early.max()) if len(early) else 0.0)
    figures.first_append_ms.append(round((float(times[0]) - created_at) * 1000, 1))
    gap_start = float(times[int(np.argmax(np.where(ends >= created_at + 1.0, gaps, -1.0)))])
    recent = [kind for t, kind, _ in session.sent if gap_start - 0.5 <= t <= gap_start]
    figures.worst.append(f"{gap_start - created_at:.2f} s in; sent in the 0.5 s before: "
                         f"{', '.join(sorted(set(recent))) or 'nothing'}")


async def measure(runs: int, tmp: Path, kinds: tuple[str, ...] = ("app", "before", "client"),
                  session_s: float = SESSION_S) -> dict[str, GapRuns]:
    speech = espeak_or_speechlike(tmp / "turn.wav", "This is a spoken turn for the microphone benchmark.",
                                  lead_s=0.5, tail_s=0.2)
    figures = {kind: GapRuns() for kind in kinds}
    async with Emulator("--speed", "1", "--chunk-ms", "40", "--net-jitter-ms", "30", "--text-reply", "markdown",
                        "--reply-s", "3", "--speech-reply", "parrot", "--realtime", tap=True) as emulator:
        for gaps in figures.values():
            gaps.emulator_priority = emulator.priority
        for _ in range(runs):
            for kind in kinds:
                if kind == "before" and not BEFORE_APP.exists():
                    figures[kind].fail(f"the checkout before this round is not installed at {BEFORE_APP}")
                    continue
                quit_at, why = await _session(kind, emulator, speech, session_s)
                if why is not None:
                    figures[kind].fail(why)
                    continue
                session = (await emulator.dump())[-1]
                _add_gaps(figures[kind], session, quit_at)
    return figures


def results(figures: dict[str, GapRuns]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    client = figures.get("client")
    for kind, gaps in figures.items():
        subject = SUBJECTS[kind]
        longest = gaps.longest.figure("mic_gap_max", "ms", "≤ 40 ms in every run", gaps.longest.at_most(40, "max"),
                                      subject=subject, first_append_ms=gaps.first_append_ms, worst=gaps.worst,
                                      observed=sorted(gaps.observed), max_at_emulator=gaps.at_emulator,
                                      emulator_priority=gaps.emulator_priority)
        p99 = gaps.p99.figure("mic_gap_p99", "ms", "≤ 25 ms in every run", gaps.p99.at_most(25, "max"),
                              subject=subject)
        startup = gaps.startup.figure("mic_gap_startup", "ms", "< 100 ms in every run",
                                      gaps.startup.at_most(99.99, "max"), subject=subject)
        if client is not None and kind != "client":
            compare(longest, client.longest.figure("", "ms"), SUBJECTS["client"])
            compare(p99, client.p99.figure("", "ms"), SUBJECTS["client"])
            compare(startup, client.startup.figure("", "ms"), SUBJECTS["client"])
        out += [longest, p99, startup]
    return out
