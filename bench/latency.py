"""Latencies a user hears: the installed app with its full TUI (in tmux) and the UI-less client, each against
the emulator in its own process, all on the virtual devices and one monotonic clock.

Every figure is raw: from an event the emulator stamped (a delta or `speech_started` leaving it), a key
sent to the terminal, or audio handed to PortAudio / reaching the microphone, to what a time-stamped
recording of the speaker shows. The loopback floor (handing audio to PortAudio → seeing it through a null
sink) is measured in the same run and printed beside the figures; it is never subtracted. A run that does
not show its event is a failed run, counted with why.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.audio import SAMPLE_RATE
from app.audio.wav import write_wav
from app.emulator.voice import tone
from bench.heard import AUDIBLE, LOUD, down_from, find_start, first_over, last_over, reply_index_of
from bench.measure import Runs
from bench.procs import Emulator, SessionRecord, above, play
from tests.audio_harness import Recording, TimedRecorder

SPEAKER, MIC = "vspeaker.monitor", "vmicsink.monitor"
# Reply pacing for first audio, one per run in turn: 20-40 ms deltas at 1-4x real time (the jitter buffer
# of 80 ms fills from 2 to 4 deltas, in 20 to 80 ms).
PACING = [(1.0, 20), (2.0, 40), (4.0, 20), (1.0, 40), (2.0, 20), (4.0, 40)]
Say = Callable[[str], Awaitable[float]]  # sends a typed turn; returns when


@dataclass
class Cut:
    """One reply stopped mid-way: by what, when, and the reply's record."""

    kind: str  # "speech" (speech_started) or "key" (i)
    cause_at: float  # the speech played (speech) or the key sent (key)
    reply_index: int  # which reply of the session


async def loopback_floor(runs: int, tmp: Path) -> Runs:
    """A player process hands a click to PortAudio on the speaker sink → the click at the sink's monitor."""
    wav = tmp / "click.wav"
    write_wav(wav, np.concatenate([np.zeros(SAMPLE_RATE // 2, np.int16), tone(0.2, 1000, 0.5)]))
    recorder = TimedRecorder(SPEAKER)
    await recorder.wait_started()
    handed = [await play(wav, "vspeaker") for _ in range(runs)]
    recording = recorder.stop()
    result = Runs()
    for at in handed:
        if at is None:
            result.fail("the player printed no start time")
            continue
        heard = first_over(recording.samples, LOUD, recording.index_at(at - 0.2), recording.index_at(at + 1.0))
        result.add(None if heard < 0 else (recording.time_of(heard) - at) * 1000, "the click was not recorded")
    return result


async def _wait_reply(emulator: Emulator, before: int, timeout: float = 15.0) -> bool:
    return await emulator.until(above("replies_done", before), timeout) is not None


async def first_audio(emulator: Emulator, say: Say, runs: int, reply_s: float = 1.0) -> Runs:
    """The first `response.audio.delta` leaves the emulator → the reply's first sample at the speaker."""
    await emulator.set(reply={"seconds": reply_s, "text": "noise"})
    recorder = TimedRecorder(SPEAKER)
    await recorder.wait_started()
    started = len((await emulator.dump())[-1].replies)
    finished: list[bool] = []
    try:
        for run in range(runs):
            speed, chunk = PACING[run % len(PACING)]
            await emulator.set(speed=speed, chunk_ms=chunk, jitter_seed=run)  # run N: the same jitter for both
            before = (await emulator.stats())["replies_done"]
            await say(f"first audio, run {run}")
            finished.append(await _wait_reply(emulator, before))
            await asyncio.sleep(reply_s + 0.4)  # what is still buffered plays out before the next run
    finally:
        await emulator.set(jitter_seed=None)  # the other figures keep a fresh jitter per reply
    recording = recorder.stop()
    session = (await emulator.dump())[-1]
    result = Runs()
    replies = iter(session.replies[started:])
    for done in finished:
        reply = next(replies, None)
        if not done or reply is None:
            result.fail("the emulator did not finish a reply within 15 s")
            continue
        sent = session.first_sent("response.audio.delta", reply.item_id)
        if sent is None or not len(reply.audio):
            result.fail("the reply carried no audio")
            continue
        start = recording.index_at(sent - 0.05)
        at, skipped = find_start(reply.audio, recording.samples, start, start + 2 * SAMPLE_RATE)
        if at < 0:
            result.fail("the reply's first 100 ms were not heard within 2 s")
            continue
        result.add((recording.time_of(at) - sent) * 1000)  # when its first audible sample played
        result.clipped += skipped > 0
    return result


async def mic_to_wire(emulator: Emulator, runs: int, tmp: Path) -> Runs:
    """A marker handed to PortAudio on the microphone's sink → the append carrying its first loud sample
    leaves the client (`SessionRecord.appends`: where the runs were timed is in `note`)."""
    from bench.heard import espeak_or_speechlike

    wav = espeak_or_speechlike(tmp / "marker.wav", "mark", lead_s=0.5, tail_s=0.6)
    handed = []
    for _ in range(runs):
        handed.append(await play(wav, "vmicsink"))
        await asyncio.sleep(0.6)  # the turn it makes ends; the next marker starts a new one
    session = (await emulator.dump())[-1]
    result = Runs(note=session.appends[1])
    for at in handed:
        result.add(None if at is None else _on_wire_ms(session, at), "the marker never reached the emulator")
    return result


def _on_wire_ms(session: SessionRecord, handed: float) -> float | None:
    arrivals = session.appends[0]
    earlier = arrivals[arrivals[:, 0] <= handed - 0.05]
    if not len(earlier):
        return None
    position = int(earlier[-1, 1])  # input samples that had arrived well before the marker was handed over
    start = session.input_at(position)
    onset = first_over(session.input_audio, LOUD, start, start + 2 * SAMPLE_RATE)
    if start < 0 or onset < 0:
        return None
    carrying = arrivals[arrivals[:, 1] > onset + session.input_offset]
    return (float(carrying[0, 0]) - handed) * 1000 if len(carrying) else None


async def cut_replies(emulator: Emulator, say: Say, runs: int, tmp: Path, *, press_i: Callable[[], Awaitable[float]]
                      | None = None, reply_s: float = 4.0) -> tuple[list[Cut], Recording, Recording,
                                                                     SessionRecord]:
    """Replies cut mid-way: by speech into the microphone (the emulator's VAD confirms), or by `i` when
    `press_i` is given. Returns the cuts, the speaker and microphone recordings and the emulator's record."""
    from bench.heard import espeak_or_speechlike

    speech = espeak_or_speechlike(tmp / "speech.wav", "wait, stop please", lead_s=0.5, tail_s=0.3)
    await emulator.set(reply={"seconds": reply_s, "text": "noise"}, speed=2.0, chunk_ms=40)
    speaker, mic = TimedRecorder(SPEAKER), TimedRecorder(MIC)
    await speaker.wait_started()
    await mic.wait_started()
    cuts: list[Cut] = []
    for run in range(runs):
        stats = await emulator.stats()
        await say(f"talk over me, run {run}")
        playing = await emulator.until(above("replies", stats["replies"], also="last_first_audio_at"), 10)
        if playing is None:
            cuts.append(Cut("none", time.monotonic(), -1))
            continue
        await asyncio.sleep(max(0.0, playing["last_first_audio_at"] + 1.0 - time.monotonic()))
        if press_i is not None:
            cuts.append(Cut("key", await press_i(), stats["replies"]))
        else:
            at = time.monotonic()
            await play(speech, "vmicsink")
            cuts.append(Cut("speech", at, stats["replies"]))
        await emulator.until(above("replies_done", stats["replies"]), 10)
        await asyncio.sleep(1.6)  # the turn the speech made ends; nothing plays within 1.2 s of the cut
    recording, heard_mic = speaker.stop(), mic.stop()
    return cuts, recording, heard_mic, (await emulator.dump())[-1]


@dataclass
class CutFigures:
    stop: Runs  # the cause → the reply silent at the speaker, ms
    duck: Runs  # speech reaching the mic → the reply 20 dB down, ms (speech cuts only)
    truncation: Runs  # audio_end_ms − what the recording shows was heard, ms
    beyond_received: int = 0


def analyse_cuts(cuts: list[Cut], speaker: Recording, mic: Recording, session: SessionRecord) -> CutFigures:
    figures = CutFigures(Runs(), Runs(), Runs())
    truncates = session.truncates()
    for cut in cuts:
        if cut.reply_index < 0 or cut.reply_index >= len(session.replies):
            for runs in (figures.stop, figures.duck, figures.truncation):
                runs.fail("the reply to cut never started")
            continue
        reply = session.replies[cut.reply_index]
        cause = cut.cause_at
        if cut.kind == "speech":
            onset = first_over(mic.samples, LOUD, mic.index_at(cause), mic.index_at(cause + 2.0))
            if onset < 0:
                figures.stop.fail("the speech never reached the microphone")
                figures.duck.fail("the speech never reached the microphone")
                continue
            heard_at = mic.time_of(onset)
            down = down_from(speaker, heard_at)
            figures.duck.add(None if down is None else down * 1000,
                             "the reply was not 20 dB down (for 100 ms) within 400 ms of the speech")
            confirmed = next((t for t in session.speech_started_at if t >= heard_at), None)
            if confirmed is None:
                figures.stop.fail("the emulator never sent speech_started")
                continue
            cause = confirmed
        last = last_over(speaker.samples, AUDIBLE, speaker.index_at(cause - 1.0), speaker.index_at(cause + 1.2))
        if last < 0 or speaker.time_of(last) > cause + 1.1:
            figures.stop.fail("the reply was still audible 1.1 s later" if last >= 0 else "no reply was heard")
            figures.truncation.fail("the reply was not cut")
            continue
        figures.stop.add((speaker.time_of(last + 1) - cause) * 1000)
        end_ms = next((ms for t, item, ms in truncates if item == reply.item_id and t >= cause - 0.1), None)
        if end_ms is None:
            figures.truncation.fail("no conversation.item.truncate reached the emulator")
            continue
        figures.beyond_received += end_ms > reply.sent_samples * 1000 // SAMPLE_RATE
        figures.truncation.add(_truncation_error(reply.audio, speaker, last, end_ms),
                               "the last samples heard were not found in the reply")
    return figures


def _truncation_error(audio: np.ndarray, speaker: Recording, last: int, end_ms: int) -> float | None:
    """`audio_end_ms` minus the reply audio heard: where the recording's last audible samples sit in the reply."""
    first, skipped = find_start(audio, speaker.samples, last - len(audio), last)
    near = last - first + skipped if first >= 0 else end_ms * SAMPLE_RATE // 1000
    index, score = reply_index_of(audio, speaker.samples, last, near)
    if index < 0 or score < 0.9:
        return None
    return end_ms - (index + 1) * 1000 / SAMPLE_RATE
