"""Turns as the service takes them: manual (push-to-talk) commits, and the VAD's semantic options."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from app.emulator.server import EmulatorServer
from tests.helpers import silence, speechlike
from tests.raw_client import RawClient


async def test_a_commit_of_too_little_audio_errors_exactly_as_the_service_does(emulator: EmulatorServer) -> None:
    async with RawClient(emulator) as c:
        await c.update(turn_detection=None)
        for pcm, has in [(silence(0), "0.00"), (speechlike(0.05), "50.00")]:
            await c.audio(pcm)
            await c.send({"type": "input_audio_buffer.commit", "event_id": "commit_1"})
            error = await c.until("error", "input_audio_buffer.committed")
            assert error["error"] == {
                "type": "invalid_request_error", "code": "input_audio_buffer_commit_empty", "param": None,
                "event_id": "commit_1",
                "message": "Error committing input audio buffer: buffer too small. Expected at least 100ms of "
                           f"audio, but buffer only has {has}ms of audio."}
        await c.audio(speechlike(0.06))  # 50 + 60 ms since the last successful commit or clear
        await c.send({"type": "input_audio_buffer.commit"})
        committed = await c.until("input_audio_buffer.committed", "error")
        assert committed["type"] == "input_audio_buffer.committed"


async def test_a_manual_turn_holds_only_what_came_since_the_last_commit_or_clear(emulator: EmulatorServer) -> None:
    async with RawClient(emulator) as c:
        await c.update(turn_detection={"type": "server_vad", "silence_duration_ms": 300, "create_response": False},
                       input_audio_transcription={"model": "azure-speech"})
        # The VAD commits this turn itself once 300 ms of silence follow it (the silence goes with it).
        await c.audio(np.concatenate([speechlike(0.6), silence(0.32)]))
        await c.until("input_audio_buffer.committed")
        await c.update(turn_detection=None)
        for before_clear in (None, speechlike(0.5, seed=3)):
            if before_clear is not None:
                await c.audio(before_clear)
                await c.send({"type": "input_audio_buffer.clear"})
                await c.until("input_audio_buffer.cleared")
            await c.audio(speechlike(0.7, seed=4))
            c.events.clear()
            await c.send({"type": "input_audio_buffer.commit"})
            committed = await c.until("input_audio_buffer.committed")
            heard = await c.until("conversation.item.input_audio_transcription.completed")
            assert heard["item_id"] == committed["item_id"] and heard["transcript"] == "(0.7 s of speech)"
        assert not [e for e in c.events if e["type"].startswith("input_audio_buffer.speech_")]
        await c.send({"type": "response.create"})
        done = await c.until("response.done")
        reply = emulator.sessions[-1].replies[done["response"]["output"][0]["id"]]
        assert len(reply.audio) // 2 == len(speechlike(0.7))  # the parrot plays back exactly that turn


async def test_no_vad_events_at_all_without_turn_detection(emulator: EmulatorServer) -> None:
    async with RawClient(emulator) as c:
        await c.update(turn_detection=None)
        await c.audio(np.concatenate([silence(0.2), speechlike(1.0), silence(1.0), speechlike(0.5), silence(1.0)]))
        c.events.extend(await c.quiet(0.3))
        assert not [k for k in c.kinds() if k.startswith(("input_audio_buffer.", "response."))]


def glide(seconds: float, f0_from: float, f0_to: float) -> np.ndarray:
    """Syllable-like speech whose pitch glides from one value to another (falling = a finished statement)."""
    t = np.arange(int(seconds * 24000)) / 24000
    phase = 2 * np.pi * np.cumsum(f0_from + (f0_to - f0_from) * t / seconds) / 24000
    voiced = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t) ** 2) * np.minimum(1, np.minimum(t, seconds - t) / 0.02)
    signal = voiced * envelope
    scaled: npt.NDArray[np.float64] = signal / np.max(np.abs(signal)) * 0.3 * 32767
    return scaled.astype(np.int16)


@pytest.mark.parametrize(("semantic", "pitch", "stopped_after_short_silence"), [
    (True, "falling", True), (True, "rising", False), (False, "rising", True),
])
async def test_end_of_utterance_waits_longer_after_a_rising_pitch(
        emulator: EmulatorServer, semantic: bool, pitch: str, stopped_after_short_silence: bool) -> None:
    emulator.options.semantic_eou = semantic
    phrase = glide(1.0, 170, 110) if pitch == "falling" else glide(1.0, 110, 170)
    async with RawClient(emulator) as c:
        await c.update(turn_detection={
            "type": "azure_semantic_vad", "threshold": 0.5, "silence_duration_ms": 200, "create_response": False,
            "end_of_utterance_detection": {"model": "semantic_detection_v1", "timeout_ms": 1000}})
        await c.audio(np.concatenate([silence(0.2), phrase, silence(0.5)]))
        await c.update(instructions="sync")
        assert ("input_audio_buffer.speech_stopped" in c.kinds()) is stopped_after_short_silence
        await c.audio(silence(0.8))  # 1.3 s of silence: past 200 ms + the 1000 ms timeout
        await c.update(instructions="sync again")
        stops = [e for e in c.events if e["type"] == "input_audio_buffer.speech_stopped"]
        assert len(stops) == 1 and abs(stops[0]["audio_end_ms"] - 1200) <= 30  # where the speech ended, either way
