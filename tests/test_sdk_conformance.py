"""Conformance: Microsoft's own `azure-ai-voicelive` SDK, as a client, against our emulator.

If the SDK parses everything the emulator sends into its typed events, and our session.update payloads
survive a round trip through the SDK's session model, the emulator and our client speak the real protocol
as Microsoft's code understands it.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import numpy as np
import pytest

voicelive = pytest.importorskip("azure.ai.voicelive")
from azure.ai.voicelive import models as m  # noqa: E402
from azure.ai.voicelive.aio import connect  # noqa: E402
from azure.core.credentials import AzureKeyCredential  # noqa: E402

from app.emulator.server import EmulatorServer  # noqa: E402
from app.protocol.session import EndOfUtterance, SessionConfig, TurnDetection, Voice  # noqa: E402
from tests.helpers import silence, speechlike  # noqa: E402


async def _until(conn: Any, kind: str, seen: list[Any], timeout: float = 15) -> Any:
    async def loop() -> Any:
        while True:
            event = await conn.recv()
            seen.append(event)
            assert type(event) is not m.ServerEvent, f"the SDK could not type {event.get('type')}"
            if event.type == kind:
                return event

    return await asyncio.wait_for(loop(), timeout)


@pytest.mark.parametrize("vad", ["server_vad", "azure_semantic_vad"])
async def test_sdk_client_talks_to_the_emulator(emulator: EmulatorServer, vad: str) -> None:
    turn_detection: Any = (
        m.ServerVad(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=400)
        if vad == "server_vad"
        else m.AzureSemanticVad(threshold=0.4, prefix_padding_ms=300, silence_duration_ms=400,
                                remove_filler_words=False)
    )
    session = m.RequestSession(
        modalities=[m.Modality.TEXT, m.Modality.AUDIO],
        instructions="Be brief.",
        voice=m.AzureStandardVoice(name="en-US-AvaNeural", temperature=0.7),
        input_audio_format=m.InputAudioFormat.PCM16,
        output_audio_format=m.OutputAudioFormat.PCM16,
        turn_detection=turn_detection,
        input_audio_noise_reduction=m.AudioNoiseReduction(type="azure_deep_noise_suppression"),
        input_audio_echo_cancellation=m.AudioEchoCancellation(),
        input_audio_transcription=m.AudioInputTranscriptionOptions(model="azure-speech"),
    )
    seen: list[Any] = []
    async with connect(endpoint=emulator.endpoint, credential=AzureKeyCredential(emulator.api_key),
                       model="gpt-4o") as conn:
        created = await _until(conn, "session.created", seen)
        assert isinstance(created, m.ServerEventSessionCreated) and created.session.id
        await conn.session.update(session=session)
        updated = await _until(conn, "session.updated", seen)
        assert updated.session.turn_detection.type == vad

        audio = np.concatenate([silence(0.2), speechlike(1.2), silence(0.8)])
        for start in range(0, len(audio), 480):
            await conn.input_audio_buffer.append(audio=base64.b64encode(audio[start : start + 480].tobytes()).decode())
        done = await _until(conn, "response.done", seen)
        assert done.response.status == "completed"
        kinds = [e.type for e in seen]
        for expected in ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                         "input_audio_buffer.committed", "conversation.item.input_audio_transcription.completed",
                         "response.created", "response.output_item.added", "conversation.item.created",
                         "response.content_part.added", "response.audio_transcript.delta", "response.audio.delta",
                         "response.audio.done", "response.audio_transcript.done", "response.content_part.done",
                         "response.output_item.done"]:
            assert expected in kinds, expected
        deltas = [e for e in seen if e.type == "response.audio.delta"]
        assert all(isinstance(e.delta, bytes) and len(e.delta) > 0 for e in deltas)  # the SDK decoded base64
        item_id = deltas[0].item_id

        # truncate within what was sent, then beyond it (an error; the session goes on)
        await conn.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=300)
        truncated = await _until(conn, "conversation.item.truncated", seen)
        assert truncated.audio_end_ms == 300
        await conn.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=10**6)
        error = await _until(conn, "error", seen)
        assert error.error.param == "audio_end_ms"

        # cancel a running response
        emulator.options.speed = 0.5
        await conn.conversation.item.create(item=m.UserMessageItem(content=[m.InputTextContentPart(text="hi")]))
        await conn.response.create()
        await _until(conn, "response.audio.delta", seen)
        await conn.response.cancel()
        cancelled = await _until(conn, "response.done", seen)
        assert cancelled.response.status == "cancelled"

        # an invalid update names the param and the session goes on
        await conn.send({"type": "session.update", "session": {"turn_detection": {"type": "server_vad",
                                                                                  "threshold": 3}}})
        error = await _until(conn, "error", seen)
        assert error.error.param == "session.turn_detection.threshold"
        await conn.session.update(session=m.RequestSession(instructions="still here"))
        assert (await _until(conn, "session.updated", seen)).session.instructions == "still here"


@pytest.mark.parametrize(
    "config",
    [
        SessionConfig(),
        SessionConfig(turn_detection=TurnDetection(type="server_vad", threshold=0.6, end_of_utterance_detection=None)),
        SessionConfig(turn_detection=None, input_audio_noise_reduction=None, input_audio_echo_cancellation=None),
        SessionConfig(voice=Voice(type="openai", name="alloy", temperature=None), temperature=0.9),
        SessionConfig(turn_detection=TurnDetection(
            type="azure_semantic_vad_multilingual", languages=["en", "fr"], remove_filler_words=True,
            end_of_utterance_detection=EndOfUtterance(model="semantic_detection_v1_multilingual",
                                                      threshold_level="high", timeout_ms=600))),
    ],
)
def test_our_payloads_round_trip_through_the_sdk_model(config: SessionConfig) -> None:
    payload = config.to_payload("2026-07-15")
    sdk_session = m.RequestSession(payload)
    assert sdk_session.as_dict() == payload
    assert SessionConfig.from_payload(sdk_session.as_dict()) == config
