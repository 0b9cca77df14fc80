"""The session configuration: one pydantic model tree, serialised to exactly what `session.update` expects.

The defaults are the Voice Live quickstart's session. The same models validate what the local emulator
receives, so "valid" means one thing on both ends of the socket.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from app.protocol.tools import InterimResponse, ToolChoice, ToolChoiceFunction, ToolDef, check_tools

LEGACY_API_VERSION = "2025-05-01-preview"

VoiceType = Literal[
    "azure-standard", "azure-custom", "azure-personal", "openai", "azure-realtime-native", "avatar-voice-sync"
]
TurnDetectionType = Literal[
    "server_vad", "azure_semantic_vad", "azure_semantic_vad_en", "azure_semantic_vad_multilingual", "semantic_vad"
]
NoiseReductionType = Literal["azure_deep_noise_suppression", "near_field", "far_field"]
EouModel = Literal["semantic_detection_v1", "semantic_detection_v1_en", "semantic_detection_v1_multilingual"]
ThresholdLevel = Literal["low", "medium", "high", "default"]
Modality = Literal["text", "audio"]
# What the service accepts (the SDK's enums plus the rates its live tests use); the app itself sends pcm16
# at 24 kHz both ways, and the emulator converts the rest.
InputAudioFormat = Literal["pcm16", "g711_ulaw", "g711_alaw"]
OutputAudioFormat = Literal["pcm16", "pcm16_8000hz", "pcm16_16000hz", "pcm16_22050hz", "pcm16_24000hz",
                            "pcm16_44100hz", "pcm16_48000hz", "g711_ulaw", "g711_alaw"]
InputSamplingRate = Literal[8000, 16000, 24000, 44100, 48000]
OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")

# The legacy (2025-05-01-preview) end-of-utterance fields took a float threshold and a timeout in seconds.
# The level→float mapping is our inference from the quickstart's values (0.01 as its "normal" setting).
_LEGACY_EOU_THRESHOLD = {"low": 0.1, "medium": 0.01, "default": 0.01, "high": 0.001}


class _Model(BaseModel):
    """Tolerant of fields we do not model (new service features must not break parsing)."""

    model_config = ConfigDict(extra="ignore", validate_assignment=True)


class Voice(_Model):
    """Which voice speaks the replies; Azure voices need `name`, custom and personal ones a bit more."""

    type: VoiceType = "azure-standard"
    name: str = Field("en-US-Ava:DragonHDLatestNeural", min_length=1)
    temperature: float | None = Field(None, ge=0.0, le=1.0)
    endpoint_id: str | None = None
    model: str | None = None
    rate: str | None = None

    @model_validator(mode="after")
    def _required_per_type(self) -> Voice:
        if self.type == "azure-custom" and not self.endpoint_id:
            raise ValueError("an azure-custom voice needs endpoint_id")
        if self.type == "azure-personal" and not self.model:
            raise ValueError("an azure-personal voice needs model")
        if self.type == "openai" and self.name not in OPENAI_VOICES:
            raise ValueError(f"unknown OpenAI voice {self.name!r}; one of {', '.join(OPENAI_VOICES)}")
        return self


class EndOfUtterance(_Model):
    """Semantic end-of-turn detection: waits for a finished thought, not just for silence."""

    model: EouModel = "semantic_detection_v1"
    threshold_level: ThresholdLevel = "default"
    timeout_ms: int = Field(1000, ge=0)


class TurnDetection(_Model):
    """Voice activity detection. Threshold is the service's 0–1 speech probability.

    Field defaults are the service's own (what it does when a field is absent); the app's defaults, the
    quickstart's, are `quickstart_turn_detection()`.
    """

    type: TurnDetectionType = "server_vad"
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    prefix_padding_ms: int = Field(300, ge=0, le=5000)
    silence_duration_ms: int = Field(500, ge=0, le=10000)
    speech_duration_ms: int | None = Field(None, ge=0)
    remove_filler_words: bool | None = None
    languages: list[str] | None = None
    end_of_utterance_detection: EndOfUtterance | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None
    auto_truncate: bool | None = None
    eagerness: Literal["auto", "low", "medium", "high"] | None = None

    @property
    def creates_response(self) -> bool:
        return self.create_response is not False

    @property
    def interrupts_response(self) -> bool:
        return self.interrupt_response is not False


def quickstart_turn_detection() -> TurnDetection:
    """The Voice Live quickstart's turn detection: semantic VAD, quick to answer."""
    return TurnDetection(type="azure_semantic_vad", threshold=0.3, prefix_padding_ms=200, silence_duration_ms=200,
                         remove_filler_words=False, end_of_utterance_detection=EndOfUtterance())


class NoiseReduction(_Model):
    type: NoiseReductionType = "azure_deep_noise_suppression"


class EchoCancellation(_Model):
    type: Literal["server_echo_cancellation"] = "server_echo_cancellation"


class Transcription(_Model):
    model: str = Field("azure-speech", min_length=1)
    language: str | None = None


NULLABLE = ("turn_detection", "input_audio_noise_reduction", "input_audio_echo_cancellation",
            "input_audio_transcription")


def _word_timestamps() -> list[Literal["word"]]:
    """Requested by default: every documented api-version has them (the 2025-05-01-preview how-to included),
    and they let an interrupted reply's transcript be cut at the last word heard."""
    return ["word"]


class SessionConfig(_Model):
    """Everything `session.update` can carry that this client lets a user set."""

    instructions: str = "You are a helpful AI assistant responding in natural, engaging language."
    modalities: list[Modality] = Field(default_factory=lambda: list[Modality](["text", "audio"]), min_length=1)
    voice: Voice = Field(default_factory=lambda: Voice(temperature=0.8))
    input_audio_format: InputAudioFormat = "pcm16"
    output_audio_format: OutputAudioFormat = "pcm16"
    input_audio_sampling_rate: InputSamplingRate = 24000
    turn_detection: TurnDetection | None = Field(default_factory=quickstart_turn_detection)
    input_audio_noise_reduction: NoiseReduction | None = Field(default_factory=NoiseReduction)
    input_audio_echo_cancellation: EchoCancellation | None = Field(default_factory=EchoCancellation)
    input_audio_transcription: Transcription | None = Field(default_factory=Transcription)
    temperature: float | None = Field(None, ge=0.6, le=1.2)
    max_response_output_tokens: int | Literal["inf"] | None = None
    output_audio_timestamp_types: list[Literal["word"]] | None = Field(default_factory=_word_timestamps)

    # ------------------------------------------------ tools, interim responses (issue 14; see tools.py)
    tools: list[ToolDef] | None = None
    """Function tools (run by the client) and MCP servers (run by the service); composed at connect time."""
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    interim_response: InterimResponse | None = None
    """Filler the service speaks while a tool runs or the reply is slow (cascaded models, 2026-01-01-preview+)."""

    @field_validator("tools")
    @classmethod
    def _unique_tools(cls, tools: list[ToolDef] | None) -> list[ToolDef] | None:
        if tools is not None:
            check_tools(tools)
        return tools

    @field_validator("tool_choice")
    @classmethod
    def _forced_tool_declared(cls, choice: ToolChoice | None, info: ValidationInfo) -> ToolChoice | None:
        tools = info.data.get("tools")
        if isinstance(choice, ToolChoiceFunction) and tools is not None:
            check_tools(tools, choice)
        return choice
    # ------------------------------------------------ end of the tools block

    @model_validator(mode="before")
    @classmethod
    def _voice_as_string(cls, data: Any) -> Any:
        """The service also accepts a bare OpenAI voice name; normalise it to the object form."""
        if isinstance(data, dict) and isinstance(data.get("voice"), str):
            data = {**data, "voice": {"type": "openai", "name": data["voice"], "temperature": None}}
        return data

    def to_payload(self, api_version: str | None = None) -> dict[str, Any]:
        """The `session` object of a `session.update`.

        Fields left unset are omitted, except that a disabled turn detection (or noise / echo processing)
        is sent as an explicit JSON null, which is how the service is told to switch it off.
        """
        payload = self.model_dump(mode="json", exclude_none=True)
        for key in NULLABLE:
            if getattr(self, key) is None:
                payload[key] = None
        eou = (payload.get("turn_detection") or {}).get("end_of_utterance_detection")
        if eou and api_version == LEGACY_API_VERSION:
            eou["threshold"] = _LEGACY_EOU_THRESHOLD[eou.pop("threshold_level")]
            eou["timeout"] = eou.pop("timeout_ms") / 1000
        if self.voice.type == "openai":  # word timestamps come from Azure text to speech only
            payload.pop("output_audio_timestamp_types", None)
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> SessionConfig:
        """Read back the effective session a server reported (tolerant of legacy EOU fields)."""
        data = dict(payload)
        td = data.get("turn_detection")
        if isinstance(td, dict) and isinstance(td.get("end_of_utterance_detection"), dict):
            eou = dict(td["end_of_utterance_detection"])
            if "timeout" in eou and "timeout_ms" not in eou:
                eou["timeout_ms"] = int(float(eou.pop("timeout")) * 1000)
            eou.pop("threshold", None)
            data["turn_detection"] = {**td, "end_of_utterance_detection": eou}
        data = without_unknown_tools(data)
        return cls.model_validate(data)


def without_unknown_tools(data: dict[str, Any]) -> dict[str, Any]:
    """A reported session with only the tool kinds this client models (a new kind must not break parsing)."""
    tools = data.get("tools")
    if isinstance(tools, list):
        data = {**data, "tools": [t for t in tools if isinstance(t, dict) and t.get("type") in ("function", "mcp")]}
    return data


def agent_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The `session` object for a Foundry agent: the agent holds its own instructions (the service refuses
    `instructions` when connected to an agent)."""
    return {k: v for k, v in payload.items() if k != "instructions"}
