"""Conformance: Microsoft's own `azure-ai-voicelive` SDK, as a client, against our emulator.

If the SDK parses everything the emulator sends into its typed events (never the base ServerEvent), and
our session.update payloads can be rebuilt field by field from the SDK's typed models and enums, the
emulator and our client speak the real protocol as Microsoft's code understands it. (`RequestSession(d)`
alone accepts any dict, so it proves nothing; the typed rebuild can fail, as its own test shows.)
"""

from __future__ import annotations

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
from tests.sdk_client import until as _until  # noqa: E402


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


TURN_DETECTION = {"server_vad": "ServerVad", "azure_semantic_vad": "AzureSemanticVad",
                  "azure_semantic_vad_en": "AzureSemanticVadEn",
                  "azure_semantic_vad_multilingual": "AzureSemanticVadMultilingual"}
VOICES = {"azure-standard": "AzureStandardVoice", "azure-custom": "AzureCustomVoice",
          "azure-personal": "AzurePersonalVoice", "openai": "OpenAIVoice"}
EOU = {"semantic_detection_v1": "AzureSemanticDetection", "semantic_detection_v1_en": "AzureSemanticDetectionEn",
       "semantic_detection_v1_multilingual": "AzureSemanticDetectionMultilingual"}


def _typed(class_name: str, data: dict[str, Any], discriminator: str | None, **nested: Any) -> Any:
    """One SDK model built from our dict by keyword: a field name the SDK does not know is a TypeError.
    Its discriminator comes from the class chosen for our `type`/`model`, so `as_dict()` equal to ours also
    proves that value is the one the SDK expects for that class."""
    plain = {k: v for k, v in data.items() if k != discriminator and k not in nested}
    obj = getattr(m, class_name)(**plain, **nested)
    assert obj.as_dict() == data, (class_name, obj.as_dict(), data)
    return obj


def sdk_typed_session(payload: dict[str, Any]) -> Any:
    """Our `session.update` payload rebuilt field by field with the SDK's typed models and checked against its
    enums (a value outside them is a ValueError); the SDK's own `RequestSession` then holds exactly our dict."""
    fields = dict(payload)
    td = fields.get("turn_detection")
    if td is not None:
        nested = {}
        eou = td.get("end_of_utterance_detection")
        if eou is not None:
            m.EouThresholdLevel(eou["threshold_level"])
            nested["end_of_utterance_detection"] = _typed(EOU[eou["model"]], eou, "model")
        fields["turn_detection"] = _typed(TURN_DETECTION[td["type"]], td, "type", **nested)
    voice = fields.get("voice")
    if voice is not None:
        if voice["type"] == "openai":
            m.OpenAIVoiceName(voice["name"])
        else:
            m.AzureVoiceType(voice["type"])
        fields["voice"] = _typed(VOICES[voice["type"]], voice, "type")
    for key, class_name in (("input_audio_noise_reduction", "AudioNoiseReduction"),
                            ("input_audio_echo_cancellation", "AudioEchoCancellation"),
                            ("input_audio_transcription", "AudioInputTranscriptionOptions")):
        if fields.get(key) is not None:
            fields[key] = _typed(class_name, fields[key], None)
    fields["modalities"] = [m.Modality(x) for x in fields.get("modalities", [])]
    m.InputAudioFormat(fields.get("input_audio_format", "pcm16"))
    m.OutputAudioFormat(fields.get("output_audio_format", "pcm16"))
    for kind in fields.get("output_audio_timestamp_types") or []:
        m.AudioTimestampType(kind)
    session = m.RequestSession(**fields)
    assert session.as_dict() == payload
    return session


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
        SessionConfig(output_audio_timestamp_types=["word"], max_response_output_tokens=512),
    ],
)
def test_our_payloads_are_what_the_sdks_typed_models_hold(config: SessionConfig) -> None:
    payload = config.to_payload("2026-07-15")
    session = sdk_typed_session(payload)
    assert SessionConfig.from_payload(session.as_dict()) == config


@pytest.mark.parametrize(("change", "error"), [
    ({"turn_detection": {"type": "server_vad", "prefix_padding": 300}}, TypeError),  # a misspelt field
    ({"voice": {"type": "azure-standard", "nam": "x"}}, TypeError),
    ({"turn_detection": {"type": "azure_semantic_vad", "end_of_utterance_detection": {
        "model": "semantic_detection_v1", "threshold_level": "normal", "timeout_ms": 1}}}, ValueError),
    ({"modalities": ["text", "video"]}, ValueError),
    ({"voice": {"type": "openai", "name": "onyx"}}, ValueError),  # not in the SDK's voice enum
])
def test_the_typed_check_fails_on_what_the_sdk_does_not_know(change: dict[str, Any],
                                                             error: type[Exception]) -> None:
    with pytest.raises(error):
        sdk_typed_session({**SessionConfig().to_payload("2026-07-15"), **change})


async def test_sdk_client_with_telephony_audio_visemes_and_manual_turns(emulator: EmulatorServer) -> None:
    """G.711 both ways, a forced tool choice, visemes and manual commits, all typed by the SDK."""
    from app.audio.wav import resample
    from app.emulator.audio_formats import ulaw_encode

    tool = m.FunctionTool(name="get_weather", description="Weather", parameters={"type": "object"})
    session = m.RequestSession(
        input_audio_format=m.InputAudioFormat.G711_ULAW, output_audio_format=m.OutputAudioFormat.G711_ALAW,
        animation=m.Animation(outputs=[m.AnimationOutputType.VISEME_ID]), tools=[tool],
        tool_choice=m.ToolChoiceFunctionSelection(name="get_weather"), turn_detection=None)
    seen: list[Any] = []
    async with connect(endpoint=emulator.endpoint, credential=AzureKeyCredential(emulator.api_key),
                       model="gpt-4o") as conn:
        await _until(conn, "session.created", seen)
        await conn.session.update(session=session)
        updated = await _until(conn, "session.updated", seen)
        assert updated.session.input_audio_sampling_rate == 8000
        assert updated.session.output_audio_format == m.OutputAudioFormat.G711_ALAW
        assert dict(updated.session.tool_choice)["name"] == "get_weather"  # the SDK leaves this union a dict
        await conn.session.update(session=m.RequestSession(tool_choice=m.ToolChoiceLiteral.AUTO))  # forced = a call
        await _until(conn, "session.updated", seen)
        await conn.input_audio_buffer.commit()
        error = await _until(conn, "error", seen)
        assert isinstance(error, m.ServerEventError) and error.error.code == "input_audio_buffer_commit_empty"
        speech = ulaw_encode(resample(speechlike(0.8), 24000, 8000))
        await conn.input_audio_buffer.append(audio=base64.b64encode(speech[:800]).decode())
        await conn.input_audio_buffer.clear()
        assert isinstance(await _until(conn, "input_audio_buffer.cleared", seen), m.ServerEventInputAudioBufferCleared)
        await conn.input_audio_buffer.append(audio=base64.b64encode(speech).decode())
        await conn.input_audio_buffer.commit()
        assert isinstance(await _until(conn, "input_audio_buffer.committed", seen),
                          m.ServerEventInputAudioBufferCommitted)
        await conn.response.create()
        done = await _until(conn, "response.done", seen)
        assert done.response.status == "completed"
    assert "input_audio_buffer.speech_started" not in [e.type for e in seen]  # turn_detection null reached us
    visemes = [e for e in seen if e.type == "response.animation_viseme.delta"]
    assert visemes and all(isinstance(v, m.ServerEventResponseAnimationVisemeDelta) for v in visemes)
    assert any(isinstance(e, m.ServerEventResponseAnimationVisemeDone) for e in seen)
    audio = b"".join(e.delta for e in seen if e.type == "response.audio.delta")
    assert len(audio) == pytest.approx(0.8 * 8000, abs=16)  # the 0.8 s turn played back, one byte a sample
