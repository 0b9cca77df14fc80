"""Settings precedence (flags > env > .env > TOML > defaults) and one-sentence errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigError, Source, default_config_path, load_settings
from app.protocol.session import SessionConfig


def test_defaults_are_the_quickstart_session() -> None:
    settings = load_settings()
    td = settings.session.turn_detection
    assert td is not None and td.type == "azure_semantic_vad"
    assert (td.threshold, td.prefix_padding_ms, td.silence_duration_ms) == (0.3, 200, 200)
    assert td.remove_filler_words is False
    assert td.end_of_utterance_detection is not None
    assert td.end_of_utterance_detection.model == "semantic_detection_v1"
    assert settings.session.input_audio_noise_reduction is not None
    assert settings.session.input_audio_noise_reduction.type == "azure_deep_noise_suppression"
    assert settings.session.input_audio_echo_cancellation is not None
    assert settings.session.voice.name == "en-US-Ava:DragonHDLatestNeural"
    assert settings.session.voice.type == "azure-standard" and settings.session.voice.temperature == 0.8
    assert settings.connection.model == "gpt-4o" and settings.connection.api_version == "2026-07-15"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_precedence_flags_over_env_over_dotenv_over_toml(tmp_path: Path) -> None:
    toml = _write(tmp_path / "c.toml", '[connection]\nmodel = "from-toml"\nendpoint = "https://toml/"\n'
                  'api_version = "toml-v"\n[session.turn_detection]\nthreshold = 0.7\n')
    dotenv = _write(tmp_path / ".env", "VOICE_LIVE_MODEL=from-dotenv\nAZURE_VOICE_LIVE_ENDPOINT=https://dotenv/\n"
                    "AZURE_VOICE_LIVE_API_VERSION=dotenv-v\n")
    env = {"AZURE_VOICE_LIVE_ENDPOINT": "https://env/", "VOICE_LIVE_MODEL": "from-env"}
    settings = load_settings({("connection", "model"): "from-flag"}, config_path=toml, environ=env, dotenv_path=dotenv)
    assert settings.connection.model == "from-flag"
    assert settings.connection.endpoint == "https://env/"
    assert settings.connection.api_version == "dotenv-v"
    assert settings.session.turn_detection is not None and settings.session.turn_detection.threshold == 0.7


def test_a_partial_override_keeps_the_other_defaults(tmp_path: Path) -> None:
    text = '[session.turn_detection]\nthreshold = 0.7\n[session.voice]\nname = "en-US-Guy"\n'
    toml = _write(tmp_path / "c.toml", text)
    session = load_settings(config_path=toml, environ={}).session
    assert session.turn_detection is not None and session.turn_detection.type == "azure_semantic_vad"
    assert session.turn_detection.threshold == 0.7 and session.turn_detection.silence_duration_ms == 200
    assert session.voice.name == "en-US-Guy" and session.voice.temperature == 0.8


def test_dotenv_never_overrides_the_real_environment_even_when_empty_there(tmp_path: Path) -> None:
    dotenv = _write(tmp_path / ".env", "AZURE_VOICE_LIVE_API_KEY=from-dotenv\n")
    settings = load_settings(environ={"AZURE_VOICE_LIVE_API_KEY": ""}, dotenv_path=dotenv)
    assert settings.connection.api_key is None
    settings = load_settings(environ={}, dotenv_path=dotenv)
    assert settings.connection.api_key is not None
    assert settings.connection.api_key.get_secret_value() == "from-dotenv"
    assert "from-dotenv" not in repr(settings)


def test_dotenv_in_the_working_directory_is_read() -> None:
    _write(Path.cwd() / ".env", "AZURE_VOICE_LIVE_ENDPOINT=https://cwd/\n")
    assert load_settings(environ={}).connection.endpoint == "https://cwd/"


def test_user_config_file_is_found_in_the_platform_dir() -> None:
    path = default_config_path()
    path.parent.mkdir(parents=True)
    _write(path, "[audio]\njitter_ms = 120\n")
    assert load_settings(environ={}).audio.jitter_ms == 120


@pytest.mark.parametrize(
    ("toml", "flags", "env", "fragment"),
    [
        ("[session.turn_detection]\nthreshold = 2\n", {}, {}, "config file"),
        ("", {("session", "turn_detection", "silence_duration_ms"): -5}, {}, "command line"),
        ("[audio]\njiter_ms = 3\n", {}, {}, "audio.jiter_ms is not a known setting"),
        ("", {}, {"VOICE_LIVE_MODEL": ""}, None),
    ],
)
def test_invalid_values_name_the_source_and_field(tmp_path: Path, toml: str, flags: dict[tuple[str, ...], object],
                                                  env: dict[str, str],
                                                  fragment: str | None) -> None:
    path = _write(tmp_path / "c.toml", toml)
    if fragment is None:  # an empty variable is treated as unset, not as an error
        assert load_settings(flags, config_path=path, environ=env).connection.model == "gpt-4o"
        return
    with pytest.raises(ConfigError) as info:
        load_settings(flags, config_path=path, environ=env)
    message = str(info.value)
    assert fragment in message
    assert message.count("\n") == 0 and message.endswith(".")


def test_bad_toml_and_missing_config_are_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(config_path=_write(tmp_path / "bad.toml", "[connection\n"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(config_path=tmp_path / "missing.toml")


def test_session_payload_is_what_the_service_expects() -> None:
    payload = SessionConfig().to_payload("2026-07-15")
    assert payload["turn_detection"]["end_of_utterance_detection"] == {
        "model": "semantic_detection_v1", "threshold_level": "default", "timeout_ms": 1000}
    assert payload["voice"] == {"type": "azure-standard", "name": "en-US-Ava:DragonHDLatestNeural",
                                "temperature": 0.8}
    assert "speech_duration_ms" not in payload["turn_detection"]  # unset fields are omitted


def test_legacy_api_version_gets_legacy_end_of_utterance_fields() -> None:
    eou = SessionConfig().to_payload("2025-05-01-preview")["turn_detection"]["end_of_utterance_detection"]
    assert eou == {"model": "semantic_detection_v1", "threshold": 0.01, "timeout": 1.0}
    back = SessionConfig.from_payload(SessionConfig().to_payload("2025-05-01-preview"))
    assert back.turn_detection is not None and back.turn_detection.end_of_utterance_detection is not None
    assert back.turn_detection.end_of_utterance_detection.timeout_ms == 1000


def test_disabled_turn_detection_is_an_explicit_null() -> None:
    payload = SessionConfig(turn_detection=None).to_payload()
    assert "turn_detection" in payload and payload["turn_detection"] is None


def test_voice_as_bare_string_and_per_type_requirements() -> None:
    assert SessionConfig.model_validate({"voice": "alloy"}).voice.type == "openai"
    with pytest.raises(ValueError, match="endpoint_id"):
        SessionConfig.model_validate({"voice": {"type": "azure-custom", "name": "x"}})


def test_each_value_remembers_its_source_and_the_endpoint_source_is_named(tmp_path: Path) -> None:
    toml = _write(tmp_path / "c.toml", '[connection]\nmodel = "from-toml"\nendpoint = "https://toml/"\n')
    dotenv = _write(tmp_path / ".env", "AZURE_VOICE_LIVE_ENDPOINT=https://dotenv/\n")
    settings = load_settings({("audio", "jitter_ms"): 100}, config_path=toml, environ={}, dotenv_path=dotenv)
    assert settings.endpoint_source == Source("dotenv", dotenv)
    assert str(settings.endpoint_source) == f"the .env file {dotenv}" and settings.endpoint_source.label == ".env"
    assert settings.source_of("connection", "model") == Source("file", toml)
    assert settings.source_of("audio", "jitter_ms") == Source("flag")
    assert settings.source_of("audio", "echo_gate").kind == "default"
    env = load_settings(config_path=toml, environ={"AZURE_VOICE_LIVE_ENDPOINT": "https://env/"}, dotenv_path=dotenv)
    assert env.endpoint_source == Source("env")
    assert load_settings({("connection", "local"): True}, environ={}).endpoint_source == Source("emulator")
    assert settings.config_path == toml and load_settings(environ={}).config_path == default_config_path()
    assert settings.model_copy(update={"log_level": "DEBUG"}).endpoint_source == Source("dotenv", dotenv)


def test_allow_insecure_comes_from_the_command_line_or_the_file_never_from_the_environment(tmp_path: Path) -> None:
    toml = _write(tmp_path / "c.toml", "[connection]\nallow_insecure = true\n")
    assert load_settings(config_path=toml, environ={}).connection.allow_insecure
    assert load_settings({("connection", "allow_insecure"): True}, environ={}).connection.allow_insecure
    dotenv = _write(tmp_path / ".env", "AZURE_VOICE_LIVE_ALLOW_INSECURE=1\nALLOW_INSECURE=true\n")
    assert not load_settings(environ={"ALLOW_INSECURE": "1"}, dotenv_path=dotenv).connection.allow_insecure


def test_a_device_index_may_be_a_toml_integer(tmp_path: Path) -> None:
    toml = _write(tmp_path / "c.toml", "[audio]\ninput_device = 3\noutput_device = 0\n")
    audio = load_settings(config_path=toml, environ={}).audio
    assert (audio.input_device, audio.output_device) == ("3", "0")
    with pytest.raises(ConfigError, match=r"audio\.input_device"):
        load_settings(config_path=_write(tmp_path / "b.toml", "[audio]\ninput_device = true\n"), environ={})


def test_false_switches_a_section_off_in_the_config_file(tmp_path: Path) -> None:
    toml = _write(tmp_path / "c.toml", "[session]\nturn_detection = false\ninput_audio_noise_reduction = false\n"
                  "[session.voice]\ntemperature = false\n")
    session = load_settings(config_path=toml, environ={}).session
    assert session.turn_detection is None and session.input_audio_noise_reduction is None
    assert session.voice.temperature is None and session.input_audio_echo_cancellation is not None
