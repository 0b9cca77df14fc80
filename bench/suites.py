"""The latency suite: two app sessions (default settings; `barge_in = "service"`) and one UI-less client
session against one emulator process, with the loopback floor measured first, and every figure built with
the floor and the client beside it."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from bench import latency
from bench.measure import Runs, compare, paired
from bench.procs import CallbackClient, Emulator, new_session
from bench.tui import THIS_APP, TuiApp

APP, CLIENT = "voicelive-tui", "UI-less callback client"


async def _connected(emulator: Emulator, sessions_before: int) -> bool:
    return await emulator.until(new_session(sessions_before), 30) is not None


async def _app_figures(emulator: Emulator, runs: int, tmp: Path) -> tuple[dict[str, Runs], int]:
    """The app's figures, and how many truncations were beyond the audio received."""
    before = (await emulator.stats()).get("sessions", 0)
    app = TuiApp.voicelive(THIS_APP, emulator.endpoint, emulator.api_key)
    await app.start()
    try:
        if not await _connected(emulator, before):
            why = "the app never sent microphone audio to the emulator"
            return {name: Runs(failures=[why] * runs) for name in
                    ("first_audio", "mic_to_wire", "stop_speech", "duck", "stop_key", "truncation")}, 0
        await app.attach_keys()
        figures = {"first_audio": await latency.first_audio(emulator, app.type_message, runs),
                   "mic_to_wire": await latency.mic_to_wire(emulator, runs, tmp)}
        await emulator.set(vad_delay_ms=500)  # like the service: the local duck is what the user hears first
        cuts = latency.analyse_cuts(*await latency.cut_replies(emulator, app.type_message, runs, tmp))
        keys: list[float] = []

        async def press_i() -> float:
            at = await app.press_now("i")
            keys.append(app.send_ms[-1])
            return at

        keyed = latency.analyse_cuts(*await latency.cut_replies(emulator, app.type_message, runs, tmp,
                                                                 press_i=press_i))
        keyed.stop.note = (f"tmux's control client replied {statistics.median(keys):.1f} ms (median) after the "
                           "send-keys command was written")
        await emulator.set(vad_delay_ms=0)
        truncation = Runs(cuts.truncation.values + keyed.truncation.values,
                          cuts.truncation.failures + keyed.truncation.failures)
        figures.update(stop_speech=cuts.stop, duck=cuts.duck, stop_key=keyed.stop, truncation=truncation)
        return figures, cuts.beyond_received + keyed.beyond_received
    finally:
        await app.stop()


async def _service_mode_stop(emulator: Emulator, runs: int, tmp: Path) -> Runs:
    """`speech_started` → silent with `barge_in = "service"`: no local duck, the flush alone (as the UI-less
    client does it), the figure issue 12 compared the two clients on."""
    before = (await emulator.stats()).get("sessions", 0)
    app = TuiApp.voicelive(THIS_APP, emulator.endpoint, emulator.api_key, config='[audio]\nbarge_in = "service"\n')
    await app.start()
    try:
        if not await _connected(emulator, before):
            return Runs(failures=["the app never sent microphone audio to the emulator"] * runs)
        await emulator.set(vad_delay_ms=500)
        stop = latency.analyse_cuts(*await latency.cut_replies(emulator, app.type_message, runs, tmp)).stop
        await emulator.set(vad_delay_ms=0)
        return stop
    finally:
        await app.stop()


async def _client_figures(emulator: Emulator, runs: int, tmp: Path) -> dict[str, Runs]:
    before = (await emulator.stats()).get("sessions", 0)
    async with CallbackClient(emulator.endpoint, emulator.api_key) as client:
        if not await _connected(emulator, before):
            why = "the client never sent microphone audio to the emulator"
            return {name: Runs(failures=[why] * runs) for name in ("first_audio", "mic_to_wire", "stop_speech")}

        async def say(text: str) -> float:
            at = time.monotonic()
            await client.say(text)
            return at

        figures = {"first_audio": await latency.first_audio(emulator, say, runs),
                   "mic_to_wire": await latency.mic_to_wire(emulator, runs, tmp)}
        await emulator.set(vad_delay_ms=500)
        figures["stop_speech"] = latency.analyse_cuts(*await latency.cut_replies(emulator, say, runs, tmp)).stop
        await emulator.set(vad_delay_ms=0)
        return figures


async def run_latency(runs: int, tmp: Path) -> list[dict[str, Any]]:
    floor = (await latency.loopback_floor(runs, tmp)).figure(
        "loopback_floor", "ms", subject="devices only",
        note="a click handed to PortAudio on the speaker's null sink → seen at its monitor (parec, time-stamped)")
    async with Emulator("--net-jitter-ms", "30", tap=True) as emulator:
        ours, beyond_received = await _app_figures(emulator, runs, tmp)
        ours["stop_service"] = await _service_mode_stop(emulator, runs, tmp)
        theirs = await _client_figures(emulator, runs, tmp)
    beside = {"floor": floor["median"]}
    client = {name: runs_.figure("", "ms") for name, runs_ in theirs.items()}

    def within(name: str, margin: float) -> bool | None:
        mine, other = ours[name], client[name]["median"]
        return None if other is None else mine.at_most(float(other) + margin, "median")

    # Run N of both had the same pacing and jitter, which move first audio by ~90 ms between runs: the
    # median of the run-by-run differences measures the app against the client; the difference of the two
    # medians mostly measures which runs landed in the middle (kept beside in the table).
    pairs = paired(ours["first_audio"], theirs["first_audio"])
    first = ours["first_audio"].figure(
        "first_audio", "ms", "≤ UI-less client + 10 ms (median of run-by-run differences)",
        within("first_audio", 10) if pairs is None else pairs["median"] <= 10, subject=APP, **beside,
        clipped_starts=ours["first_audio"].clipped, pacing="20-40 ms deltas at 1-4x real time, ±30 ms jitter "
        "(run N: the same pacing and jitter for the app and the client), 80 ms jitter buffer",
        event="first response.audio.delta leaves the emulator → its first sample at the speaker",
        client_values=theirs["first_audio"].values, paired_difference_ms=pairs)
    wire = ours["mic_to_wire"].figure(
        "mic_to_wire", "ms", "≤ UI-less client + 10 ms (median)", within("mic_to_wire", 10), subject=APP, **beside,
        event="speech handed to PortAudio on the mic's sink → the append carrying it leaves the client",
        observed=ours["mic_to_wire"].note, client_observed=theirs["mic_to_wire"].note)
    stop = ours["stop_speech"].figure(
        "stop_after_speech_started", "ms", "≤ 10 ms raw (p95)", ours["stop_speech"].at_most(10), subject=APP,
        **beside, event="input_audio_buffer.speech_started leaves the emulator → the reply silent at the speaker",
        conditions="barge_in = duck (default), emulator VAD delayed 500 ms")
    service = ours["stop_service"].figure(
        "stop_after_speech_started", "ms", "≤ 10 ms raw (p95)", ours["stop_service"].at_most(10),
        subject=f"{APP}, barge_in = service", **beside,
        event="input_audio_buffer.speech_started leaves the emulator → the reply silent at the speaker",
        conditions="barge_in = service: no local duck, the reply at full volume until the flush")
    key = ours["stop_key"].figure(
        "stop_after_key", "ms", "≤ 10 ms raw (p95)", ours["stop_key"].at_most(10), subject=APP, **beside,
        event="`i` written to tmux's control client → the reply silent at the speaker (includes tmux's delivery)",
        tmux=ours["stop_key"].note)
    duck = ours["duck"].figure(
        "duck", "ms", "≤ 40 ms (p95)", ours["duck"].at_most(40), subject=APP, **beside,
        event="speech reaches the microphone (recorded there) → the reply ≥ 20 dB down for 100 ms",
        conditions="emulator VAD delayed 500 ms, so the duck comes before the service's speech_started")
    truncation = ours["truncation"]
    errors = [abs(v) for v in truncation.values]
    trunc = truncation.figure(
        "truncation_error", "ms", "|error| ≤ 10 ms, never beyond received",
        bool(errors) and max(errors) <= 10 and beyond_received == 0 if truncation.values else None,
        subject=APP, beyond_received=beyond_received, max_abs=round(max(errors), 2) if errors else None,
        event="audio_end_ms the emulator received − reply audio the recording shows was heard (both kinds of cut)")
    for figure, name in ((first, "first_audio"), (wire, "mic_to_wire"), (stop, "stop_speech"),
                         (service, "stop_speech")):
        compare(figure, client[name], CLIENT)
    return [floor, first, wire, stop, service, key, duck, trunc]
