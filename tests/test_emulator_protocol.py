"""The emulator behaves like the service: session state, turn detection, responses, faults, concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed

from app.emulator.server import EmulatorOptions, EmulatorServer
from tests.helpers import silence, speechlike
from tests.raw_client import RawClient


def two_phrases(gap: float = 0.6) -> np.ndarray:
    return np.concatenate([silence(0.2), speechlike(0.6, seed=1), silence(gap), speechlike(0.6, seed=2),
                           silence(1.8)])


async def test_session_created_carries_a_full_default_session(emulator: EmulatorServer) -> None:
    async with RawClient(emulator) as c:
        session = c.events[0]["session"]
        for key in ("id", "model", "modalities", "voice", "input_audio_format", "output_audio_format",
                    "turn_detection", "input_audio_noise_reduction", "input_audio_echo_cancellation",
                    "input_audio_transcription", "expires_at"):
            assert key in session, key
        assert session["model"] == "gpt-4o" and session["turn_detection"]["type"] == "server_vad"


async def test_updates_merge_and_invalid_ones_name_the_param(emulator: EmulatorServer) -> None:
    async with RawClient(emulator) as c:
        updated = await c.update(instructions="Be brief.")
        assert updated["session"]["instructions"] == "Be brief."
        assert updated["session"]["turn_detection"]["type"] == "server_vad"  # untouched fields stay
        cases: list[tuple[dict[str, Any], str]] = [
            ({"turn_detection": {"type": "server_vad", "threshold": 1.5}}, "session.turn_detection.threshold"),
            ({"turn_detection": {"type": "server_vad", "silence_duration_ms": -1}},
             "session.turn_detection.silence_duration_ms"),
            ({"turn_detection": {"type": "loud_vad"}}, "session.turn_detection.type"),
            ({"input_audio_noise_reduction": {"type": "earmuffs"}}, "session.input_audio_noise_reduction.type"),
            ({"input_audio_echo_cancellation": {"type": "nope"}}, "session.input_audio_echo_cancellation.type"),
            ({"voice": {"type": "robot", "name": "x"}}, "session.voice.type"),
            ({"model": "gpt-5"}, "session.model"),
            ({"surprise": 1}, "session.surprise"),
        ]
        for bad, param in cases:
            error = await c.update(**bad)
            assert error["type"] == "error" and error["error"]["param"] == param, (bad, error)
        still = await c.update(instructions="still fine")
        assert still["type"] == "session.updated" and still["session"]["instructions"] == "still fine"


@pytest.mark.parametrize(("silence_ms", "turns"), [(200, 2), (1500, 1)])
async def test_silence_duration_decides_the_turn_split(emulator: EmulatorServer, silence_ms: int, turns: int) -> None:
    async with RawClient(emulator) as c:
        await c.update(turn_detection={"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 100,
                                       "silence_duration_ms": silence_ms, "create_response": False})
        await c.audio(two_phrases())
        c.events.extend(await c.quiet(0.5))
        starts = [e for e in c.events if e["type"] == "input_audio_buffer.speech_started"]
        stops = [e for e in c.events if e["type"] == "input_audio_buffer.speech_stopped"]
        assert len(starts) == len(stops) == turns
        assert starts[0]["audio_start_ms"] == 100  # 200 ms of silence, minus 100 ms of prefix padding
        assert "response.created" not in c.kinds()  # create_response false


async def test_a_threshold_above_the_speech_level_yields_no_turn(emulator: EmulatorServer) -> None:
    async with RawClient(emulator) as c:
        await c.update(turn_detection={"type": "azure_semantic_vad", "threshold": 0.99})
        await c.audio(two_phrases())
        c.events.extend(await c.quiet(0.5))
        assert "input_audio_buffer.speech_started" not in c.kinds()


async def test_changes_apply_to_the_very_next_audio(emulator: EmulatorServer) -> None:
    async with RawClient(emulator) as c:
        await c.update(turn_detection={"type": "server_vad", "threshold": 0.99})
        await c.audio(speechlike(0.5))
        await c.update(turn_detection={"type": "server_vad", "threshold": 0.3, "silence_duration_ms": 200,
                                       "create_response": False})
        await c.audio(np.concatenate([speechlike(0.5), silence(0.5)]))
        started = await c.until("input_audio_buffer.speech_started")
        assert started["audio_start_ms"] >= 500 - 300  # it began in the second half, after the change


async def test_manual_mode_commit_clear_and_response(emulator: EmulatorServer) -> None:
    async with RawClient(emulator) as c:
        await c.update(turn_detection=None)
        await c.send({"type": "input_audio_buffer.commit"})
        assert (await c.until("error"))["error"]["code"] == "input_audio_buffer_commit_empty"
        await c.audio(speechlike(0.4))
        await c.send({"type": "input_audio_buffer.clear"})
        await c.until("input_audio_buffer.cleared")
        await c.send({"type": "input_audio_buffer.commit"})
        assert (await c.until("error"))["error"]["code"] == "input_audio_buffer_commit_empty"
        await c.audio(speechlike(0.8))
        await c.send({"type": "input_audio_buffer.commit"})
        committed = await c.until("input_audio_buffer.committed")
        assert "input_audio_buffer.speech_started" not in c.kinds()
        await c.send({"type": "response.create"})
        done = await c.until("response.done")
        assert done["response"]["status"] == "completed"
        assert committed["item_id"] in [e.get("previous_item_id") for e in c.events
                                        if e["type"] == "conversation.item.created"]


async def test_text_only_modality_and_word_timestamps(emulator: EmulatorServer) -> None:
    async with RawClient(emulator) as c:
        await c.update(modalities=["text"])
        await c.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                      "content": [{"type": "input_text", "text": "hello"}]}})
        await c.send({"type": "response.create"})
        await c.until("response.done")
        assert "response.text.delta" in c.kinds() and "response.audio.delta" not in c.kinds()
        c.events.clear()
        await c.update(modalities=["text", "audio"], output_audio_timestamp_types=["word"])
        await c.send({"type": "response.create"})
        await c.until("response.done")
        stamps = [e for e in c.events if e["type"] == "response.audio_timestamp.delta"]
        assert stamps and [s["audio_offset_ms"] for s in stamps] == sorted(s["audio_offset_ms"] for s in stamps)


async def test_full_response_sequence_in_order(emulator: EmulatorServer) -> None:
    async with RawClient(emulator) as c:
        await c.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                      "content": [{"type": "input_text", "text": "hi"}]}})
        await c.send({"type": "response.create"})
        done = await c.until("response.done")
        order = [k for k in c.kinds() if not k.endswith(".delta")]
        expected = ["conversation.item.created", "response.created", "response.output_item.added",
                    "conversation.item.created", "response.content_part.added", "response.audio.done",
                    "response.audio_transcript.done", "response.content_part.done", "response.output_item.done",
                    "response.done"]
        assert order[-len(expected):] == expected
        assert done["response"]["usage"]["total_tokens"] > 0
        item_id = done["response"]["output"][0]["id"]
        await c.send({"type": "conversation.item.retrieve", "item_id": item_id})
        assert (await c.until("conversation.item.retrieved"))["item"]["id"] == item_id
        await c.send({"type": "conversation.item.delete", "item_id": item_id})
        await c.until("conversation.item.deleted")
        await c.send({"type": "conversation.item.delete", "item_id": item_id})
        assert (await c.until("error"))["error"]["param"] == "item_id"
        await c.send({"type": "response.cancel"})
        assert (await c.until("error"))["error"]["code"] == "response_cancel_not_active"
        await c.send({"type": "no.such.event"})
        assert (await c.until("error"))["error"]["code"] == "unknown_event"


async def test_speech_during_a_response_cancels_it_as_turn_detected(emulator: EmulatorServer) -> None:
    emulator.options.speed = 0.5
    async with RawClient(emulator) as c:
        await c.update(turn_detection={"type": "server_vad", "silence_duration_ms": 300})
        await c.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                      "content": [{"type": "input_text", "text": "tell me a story"}]}})
        await c.send({"type": "response.create"})
        await c.until("response.audio.delta")
        await c.audio(speechlike(0.5))
        done = await c.until("response.done")
        assert done["response"]["status"] == "cancelled"
        assert done["response"]["status_details"]["reason"] == "turn_detected"
        kinds = c.kinds()
        assert kinds.index("input_audio_buffer.speech_started") < kinds.index("response.done")


async def test_fault_injection_drops_errors_and_unknown_events() -> None:
    options = EmulatorOptions(drop_after_events=6, error_after_events=2, unknown_event_every=3)
    async with EmulatorServer(options=options) as server, RawClient(server) as c:
        await c.update(instructions="x")
        with pytest.raises(ConnectionClosed) as info:
            for _ in range(10):
                await c.update(instructions="y")
        assert info.value.rcvd is None  # no close frame: an abrupt drop (1006)
        kinds = c.kinds()
        assert "emulator.unknown_feature" in kinds
        assert any(e["type"] == "error" and e["error"]["code"] == "injected_fault" for e in c.events)


async def test_session_cap_closes_the_session() -> None:
    async with EmulatorServer(options=EmulatorOptions(session_cap_s=0.5)) as server, RawClient(server) as c:
        error = await c.until("error", timeout=5)
        assert error["error"]["code"] == "session_expired"
        with pytest.raises(ConnectionClosed) as info:
            await c.until("never", timeout=5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1000


async def test_fifty_concurrent_sessions_each_complete_a_turn(emulator: EmulatorServer) -> None:
    emulator.options.speed = 50.0

    async def one(n: int) -> str:
        async with RawClient(emulator) as c:
            await c.update(turn_detection={"type": "server_vad", "silence_duration_ms": 200})
            await c.audio(np.concatenate([speechlike(0.4, seed=n), silence(0.4)]))
            done = await c.until("response.done", timeout=60)
            return str(done["response"]["status"])

    statuses = await asyncio.gather(*(one(n) for n in range(50)))
    assert statuses == ["completed"] * 50
    assert len(emulator.sessions) == 50
