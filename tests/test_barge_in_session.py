"""Talking over a reply, end to end on the virtual devices: the session, the engine, and an emulator whose
VAD reports speech 500 ms late, as the service's does.

What counts is what the speaker played (a time-stamped recording of `vspeaker.monitor`) against when the
speech reached the microphone (a recording of `vmicsink.monitor`), and what the emulator received.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from app.audio import SAMPLE_RATE
from app.audio.engine import AudioEngine
from app.emulator import message_output
from app.emulator.server import EmulatorOptions, EmulatorServer
from app.protocol.session import SessionConfig, TurnDetection
from app.voicelive import notices as nt
from tests.audio_harness import TimedRecorder, levels_db, locate, noise, play_into_mic_at
from tests.helpers import correlation, silence, wait_for
from tests.session_harness import SessionHarness

REPLY = noise(6.0, level=0.1, seed=21)
# The user's turns: speech must last 300 ms to count, so a 150 ms cough is never confirmed by the service.
TURNS = TurnDetection(type="server_vad", threshold=0.5, prefix_padding_ms=100, silence_duration_ms=400,
                      speech_duration_ms=300, create_response=False)


async def _steady_reply(text: str) -> tuple[str, npt.NDArray[np.int16]]:
    return f"A steady reply to: {text}", REPLY


@asynccontextmanager
async def _talking_session(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[SessionHarness, AudioEngine]]:
    monkeypatch.setattr(message_output, "reply_for_text", _steady_reply)  # a reply whose level is measurable
    server = EmulatorServer(options=EmulatorOptions(speed=4.0, vad_delay_ms=500, keep_closed_sessions=2))
    await server.start()
    engine = AudioEngine(jitter_ms=80, barge_in="duck")
    h = SessionHarness(server, config=SessionConfig(turn_detection=TURNS))
    try:
        async with h:
            await h.speaker.stop()  # the real device drains the buffer, not the software speaker
            h.session.attach_audio(engine)
            await engine.open(asyncio.get_running_loop(), h.session.submit_audio, h.session.local_speech)
            try:
                yield h, engine
            finally:
                await engine.close()
    finally:
        await server.stop()


def _ducked_prefix(recording: npt.NDArray[np.int16], lag: int) -> tuple[int, int]:
    """Like `heard_prefix`, for a reply that was playing ducked when it was cut: its last 20 ms are the
    reply scaled down, so they are found in the reply by correlation rather than sample for sample."""
    heard = np.flatnonzero(recording[lag : lag + len(REPLY) + SAMPLE_RATE])
    last = lag + int(heard[-1])
    tail = recording[last - 479 : last + 1]
    at, score = correlation(tail, REPLY)
    assert score > 0.95, score
    return at + len(tail), last


def _first_loud(samples: npt.NDArray[np.int16], after: int = 0) -> int:
    loud = np.flatnonzero(np.abs(samples[after:].astype(np.int32)) > 300)
    assert loud.size, "nothing reached the microphone"
    return after + int(loud[0])


async def test_speech_ducks_at_once_and_the_service_confirms_the_cut(audio_devices: None, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    user = np.concatenate([silence(0.2), noise(1.0, level=0.3, seed=22), silence(0.6)])
    speaker, mic = TimedRecorder(), TimedRecorder("vmicsink.monitor")
    await speaker.wait_started()
    await mic.wait_started()
    async with _talking_session(monkeypatch) as (h, engine):
        h.session.send_text("talk for a while")
        await wait_for(lambda: h.of(nt.AssistantTurnStarted), timeout=15)
        item = h.of(nt.AssistantTurnStarted)[0].item_id
        await wait_for(lambda: engine.playback.played_ms(item) > 1200, timeout=15)
        await play_into_mic_at(user, tmp_path / "user.wav")
        await wait_for(lambda: h.emulated.replies[item].truncated_at_ms is not None, timeout=10)
        # The whole reply had arrived (4× real time) before the user spoke: the cut ends the turn again.
        await wait_for(lambda: any(n.status == "cancelled" for n in h.of(nt.AssistantTurnEnded)), timeout=10)
        spoke_at = h.emulated.speech_started_at[0]
    played, heard = speaker.stop(), mic.stop()
    onset_t = heard.time_of(_first_loud(heard.samples))
    # 1. The duck: the reply 20 dB down within 60 ms of the speech reaching the microphone.
    lag = locate(REPLY, played.samples)
    first = played.index_at(onset_t - 0.3)
    levels = levels_db(played.samples[first : first + SAMPLE_RATE])  # 5 ms windows
    before = float(np.median(levels[:50]))
    down = [k for k in range(60, len(levels)) if levels[k] <= before - 20]
    assert down and (down[0] - 60 + 1) * 5 <= 60, (before, down[:3])
    # 2. The service's confirmation came ~500 ms later: the reply was cut, not restored.
    assert spoke_at - onset_t >= 0.4  # the emulator's VAD really lagged
    end_index, last_sample = _ducked_prefix(played.samples, lag)
    assert played.time_of(last_sample) <= spoke_at + 0.2  # nothing of the reply after the cut (ducked or not)
    ended = h.of(nt.AssistantTurnEnded)[-1]
    assert ended.item_id == item and ended.interrupted_at_ms is not None
    # 3. Truncation at what was heard, never beyond what was received.
    heard_ms = end_index * 1000 / SAMPLE_RATE
    truncated = h.emulated.replies[item].truncated_at_ms
    assert truncated is not None and abs(truncated - heard_ms) <= 10, (truncated, heard_ms)
    assert truncated <= len(h.emulated.replies[item].audio) // 2 * 1000 / SAMPLE_RATE


async def test_a_cough_the_service_does_not_confirm_ducks_then_the_reply_comes_back_in_full(
        audio_devices: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cough = np.concatenate([silence(0.1), noise(0.15, level=0.3, seed=23), silence(0.3)])
    speaker = TimedRecorder()
    await speaker.wait_started()
    async with _talking_session(monkeypatch) as (h, engine):
        h.session.send_text("talk for a while")
        await wait_for(lambda: h.of(nt.AssistantTurnStarted), timeout=15)
        item = h.of(nt.AssistantTurnStarted)[0].item_id
        await wait_for(lambda: engine.playback.played_ms(item) > 1000, timeout=15)
        await play_into_mic_at(cough, tmp_path / "cough.wav")
        await wait_for(lambda: engine.ducker.ducks == 1, timeout=5)
        await wait_for(lambda: engine.ducker.restores == 1, timeout=5)  # nobody confirmed: it comes back
        await wait_for(lambda: h.of(nt.AssistantTurnEnded), timeout=15)
        await wait_for(lambda: not engine.playback.is_playing(), timeout=15)
        await asyncio.sleep(0.2)  # the last block through the null sink into the recording
    played = speaker.stop().samples
    assert not h.emulated.speech_started_at  # the service never heard a turn
    assert "conversation.item.truncate" not in [e["type"] for e in h.emulated.received]
    assert h.of(nt.AssistantTurnEnded)[0].status == "completed"
    tail = REPLY[-SAMPLE_RATE:]
    at_tail = locate(tail, played)
    assert at_tail >= 0 and np.array_equal(played[at_tail : at_tail + len(tail)], tail)  # the end, at full volume
