"""Turns as the service takes them: manual (push-to-talk) commits, and the VAD's semantic options."""

from __future__ import annotations

import numpy as np

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
