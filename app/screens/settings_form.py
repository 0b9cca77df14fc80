"""The settings form's schema: which field edits which setting, and how text becomes a value.

Kept apart from the screen so the mapping (and its round trip) can be tested without a UI. The pydantic
models stay the only rule for what is valid: the form builds a candidate and lets them judge it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from app.config import AudioSettings
from app.protocol.session import SessionConfig, Transcription, TurnDetection, quickstart_turn_detection
from app.protocol.tools import StaticInterimResponse
from app.protocol.validation import first_problem
from app.tools.settings import InterimSettings

Kind = Literal["text", "int", "float", "bool", "choice"]
OFF = "off"


@dataclass(frozen=True)
class FieldSpec:
    id: str
    label: str
    kind: Kind
    section: str
    choices: tuple[str, ...] = ()
    help: str = ""


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("voice-type", "Voice type", "choice", "Voice",
              ("azure-standard", "azure-custom", "azure-personal", "openai", "azure-realtime-native")),
    FieldSpec("voice-name", "Voice name", "text", "Voice", help="e.g. en-US-Ava:DragonHDLatestNeural, alloy"),
    FieldSpec("voice-temperature", "Voice temperature", "float", "Voice", help="0–1, HD voices; empty = default"),
    FieldSpec("vad-type", "Turn detection", "choice", "Turn detection",
              (OFF, "server_vad", "azure_semantic_vad", "azure_semantic_vad_en", "azure_semantic_vad_multilingual"),
              help="off = push to talk: space makes the turns"),
    FieldSpec("vad-threshold", "Threshold", "float", "Turn detection", help="0–1; higher needs louder speech"),
    FieldSpec("vad-prefix", "Prefix padding (ms)", "int", "Turn detection"),
    FieldSpec("vad-silence", "Silence duration (ms)", "int", "Turn detection", help="pause that ends your turn"),
    FieldSpec("eou-model", "End of utterance", "choice", "Turn detection",
              (OFF, "semantic_detection_v1", "semantic_detection_v1_en", "semantic_detection_v1_multilingual")),
    FieldSpec("eou-level", "End-of-utterance threshold", "choice", "Turn detection",
              ("default", "low", "medium", "high")),
    FieldSpec("eou-timeout", "End-of-utterance timeout (ms)", "int", "Turn detection"),
    FieldSpec("vad-fillers", "Remove filler words", "bool", "Turn detection"),
    FieldSpec("vad-interrupt", "Speech interrupts the reply", "bool", "Turn detection"),
    FieldSpec("vad-create", "Answer automatically", "bool", "Turn detection"),
    FieldSpec("noise", "Noise suppression", "choice", "Audio processing",
              (OFF, "azure_deep_noise_suppression", "near_field", "far_field")),
    FieldSpec("echo", "Server echo cancellation", "bool", "Audio processing"),
    FieldSpec("echo-gate", "Local echo gate", "bool", "Audio processing", help="for speakers without headphones"),
    FieldSpec("barge-in", "Talking over a reply", "choice", "Audio processing", ("duck", "service", "local-cut"),
              help="duck: lower it at once, cut when the service hears you; local-cut: cut at once"),
    FieldSpec("jitter", "Jitter buffer (ms)", "int", "Audio processing"),
    FieldSpec("input-device", "Input device", "text", "Devices", help="index or part of the name; empty = default"),
    FieldSpec("output-device", "Output device", "text", "Devices"),
    FieldSpec("instructions", "Instructions", "text", "Model"),
    FieldSpec("transcription", "Input transcription model", "text", "Model", help="e.g. azure-speech; empty = off"),
    FieldSpec("interim", "Interim responses", "choice", "Model", (OFF, "llm", "static"),
              help="filler while a tool runs or a reply is slow (cascaded models)"),
)
BY_ID = {spec.id: spec for spec in FIELDS}
CHOICE_LABELS = {("vad-type", OFF): "off (push to talk)"}  # (field, value) → what the list shows


def choice_label(field_id: str, value: str) -> str:
    return CHOICE_LABELS.get((field_id, value), value)

# pydantic error locations → the field that shows the error
_LOC_TO_FIELD = {
    ("voice", "name"): "voice-name", ("voice", "temperature"): "voice-temperature", ("voice",): "voice-name",
    ("voice", "type"): "voice-type", ("turn_detection", "threshold"): "vad-threshold",
    ("turn_detection", "prefix_padding_ms"): "vad-prefix", ("turn_detection", "silence_duration_ms"): "vad-silence",
    ("turn_detection", "end_of_utterance_detection", "timeout_ms"): "eou-timeout",
    ("input_audio_transcription", "model"): "transcription", ("jitter_ms",): "jitter",
}


class FormError(ValueError):
    def __init__(self, field_id: str, message: str) -> None:
        super().__init__(message)
        self.field_id = field_id


def values_from(session: SessionConfig, audio: AudioSettings) -> dict[str, Any]:
    """The form's values for a configuration: strings for text fields, bools for switches."""
    td = session.turn_detection
    eou = td.end_of_utterance_detection if td else None
    return {
        "voice-type": session.voice.type,
        "voice-name": session.voice.name,
        "voice-temperature": "" if session.voice.temperature is None else str(session.voice.temperature),
        "vad-type": td.type if td else OFF,
        "vad-threshold": str((td or quickstart_turn_detection()).threshold),
        "vad-prefix": str((td or quickstart_turn_detection()).prefix_padding_ms),
        "vad-silence": str((td or quickstart_turn_detection()).silence_duration_ms),
        "eou-model": eou.model if eou else OFF,
        "eou-level": eou.threshold_level if eou else "default",
        "eou-timeout": str(eou.timeout_ms if eou else 1000),
        "vad-fillers": bool(td and td.remove_filler_words),
        "vad-interrupt": td.interrupts_response if td else True,
        "vad-create": td.creates_response if td else True,
        "noise": session.input_audio_noise_reduction.type if session.input_audio_noise_reduction else OFF,
        "echo": session.input_audio_echo_cancellation is not None,
        "echo-gate": audio.echo_gate,
        "barge-in": audio.barge_in,
        "jitter": str(audio.jitter_ms),
        "input-device": audio.input_device or "",
        "output-device": audio.output_device or "",
        "instructions": session.instructions,
        "transcription": session.input_audio_transcription.model if session.input_audio_transcription else "",
        "interim": _interim_kind(session),
    }


def _interim_kind(session: SessionConfig) -> str:
    wire = session.interim_response
    return OFF if wire is None else "static" if isinstance(wire, StaticInterimResponse) else "llm"


def _interim(kind: str, base: SessionConfig) -> dict[str, Any] | None:
    """The interim response the form chose: the one in effect if its kind did not change, else the defaults."""
    if kind == OFF:
        return None
    wire = base.interim_response if _interim_kind(base) == kind else None
    wire = wire or InterimSettings(enabled=True, kind="static" if kind == "static" else "llm").to_wire()
    return wire.model_dump(mode="json", exclude_none=True) if wire is not None else None


def _number(values: dict[str, Any], field_id: str, kind: type[int] | type[float]) -> Any:
    text = str(values[field_id]).strip()
    try:
        return kind(text)
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise FormError(field_id, f"{BY_ID[field_id].label} must be {noun}.") from None


def _flag(value: Any, previous: bool | None) -> bool | None:
    """A switch for a setting whose default is on: leave it unset (None) unless the user turned it off."""
    return None if bool(value) and previous is None else bool(value)


def build(values: dict[str, Any], base: SessionConfig, audio: AudioSettings) -> tuple[SessionConfig, AudioSettings]:
    """The configuration the form describes, judged by the pydantic models; raises FormError for a field."""
    temperature_text = str(values["voice-temperature"]).strip()
    voice = {**base.voice.model_dump(exclude_none=True),  # what the form does not show (rate, endpoint_id, model)
             "type": values["voice-type"], "name": str(values["voice-name"]).strip(),
             "temperature": _number(values, "voice-temperature", float) if temperature_text else None}
    turn_detection: dict[str, Any] | None = None
    if values["vad-type"] != OFF:
        eou = None
        if values["eou-model"] != OFF:
            eou = {"model": values["eou-model"], "threshold_level": values["eou-level"],
                   "timeout_ms": _number(values, "eou-timeout", int)}
        previous = base.turn_detection or TurnDetection()
        turn_detection = {
            **previous.model_dump(exclude_none=True),
            "type": values["vad-type"], "threshold": _number(values, "vad-threshold", float),
            "prefix_padding_ms": _number(values, "vad-prefix", int),
            "silence_duration_ms": _number(values, "vad-silence", int),
            "remove_filler_words": bool(values["vad-fillers"]),
            "interrupt_response": _flag(values["vad-interrupt"], previous.interrupt_response),
            "create_response": _flag(values["vad-create"], previous.create_response),
            "end_of_utterance_detection": eou,
        }
    transcription = str(values["transcription"]).strip()
    data = {
        **base.model_dump(exclude_none=True),
        "voice": voice,
        "turn_detection": turn_detection,
        "input_audio_noise_reduction": None if values["noise"] == OFF else {"type": values["noise"]},
        "input_audio_echo_cancellation": {"type": "server_echo_cancellation"} if values["echo"] else None,
        "input_audio_transcription": {**(base.input_audio_transcription or Transcription()).model_dump(
            exclude_none=True), "model": transcription} if transcription else None,  # keeps its language
        "instructions": str(values["instructions"]),
        "interim_response": _interim(str(values["interim"]), base),
    }
    audio_data = {**audio.model_dump(), "echo_gate": bool(values["echo-gate"]), "barge_in": values["barge-in"],
                  "jitter_ms": _number(values, "jitter", int),
                  "input_device": str(values["input-device"]).strip() or None,
                  "output_device": str(values["output-device"]).strip() or None}
    try:
        session = SessionConfig.model_validate(data)
        new_audio = AudioSettings.model_validate(audio_data)
    except ValidationError as exc:
        problem = first_problem(exc)
        loc = problem.loc
        field_id = next((f for n in range(len(loc), 0, -1) if (f := _LOC_TO_FIELD.get(loc[:n]))), "voice-name")
        raise FormError(field_id, problem.sentence(BY_ID[field_id].label)) from None
    return session, new_audio

