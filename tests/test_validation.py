"""One wording for invalid input, wherever the pydantic models judge it: settings files and the form."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import AudioSettings, ConfigError, load_settings
from app.protocol.session import SessionConfig
from app.protocol.validation import error_sentence, first_problem
from app.screens.settings_form import FormError, build, values_from


def _problem(data: dict[str, object]) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        SessionConfig.model_validate(data)
    return info.value


@pytest.mark.parametrize(
    ("data", "field", "phrase"),
    [
        ({"turn_detection": {"threshold": 7}}, "turn_detection.threshold", "must be less than or equal to 1"),
        ({"turn_detection": {"silence_duration_ms": "soon"}}, "turn_detection.silence_duration_ms",
         "must be a valid integer"),
        ({"voice": {"name": ""}}, "voice.name", "must have at least 1 character"),
        ({"voice": {"type": "azure-custom", "name": "x"}}, "voice", "is invalid: an azure-custom voice needs"),
    ],
)
def test_the_first_problem_is_a_field_and_a_phrase(data: dict[str, object], field: str, phrase: str) -> None:
    problem = first_problem(_problem(data))
    assert problem.field == field and problem.phrase.startswith(phrase)
    sentence = error_sentence(_problem(data), where="the config file c.toml")
    assert sentence.startswith(f"Invalid setting in the config file c.toml: {field} {phrase}")
    assert sentence.endswith(".") and "\n" not in sentence and "Value error" not in sentence


def test_the_config_file_and_the_settings_form_say_it_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[session.turn_detection]\nthreshold = 7\n")
    with pytest.raises(ConfigError) as from_file:
        load_settings(config_path=path, environ={})
    values = values_from(SessionConfig(), AudioSettings())
    values["vad-threshold"] = "7"
    with pytest.raises(FormError) as from_form:
        build(values, SessionConfig(), AudioSettings())
    assert from_form.value.field_id == "vad-threshold"
    assert str(from_form.value) == "Threshold must be less than or equal to 1."
    assert str(from_file.value).endswith("session.turn_detection.threshold must be less than or equal to 1.")


def test_an_unknown_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r"audio\.jiter_ms is not a known setting\.$"):
        load_settings({("audio", "jiter_ms"): 3}, environ={})
