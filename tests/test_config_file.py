"""Saving settings (F3, --save-key): only what the user changed, into the file the settings came from."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from app.config import AudioSettings, default_config_path, load_settings, read_toml
from app.config_file import audio_changes, save_changes, save_settings, session_changes, settings_changes
from app.files import WriteError
from app.protocol.session import SessionConfig
from app.screens.settings_form import build, values_from

USER_FILE = """\
# my voice settings, tuned by hand
[connection]
api_key = "saved-with-save-key-0123"  # stored with --save-key
model = "gpt-4o"

[session.turn_detection]  # quiet room
threshold = 0.7

[keys]
mute = "ctrl+m"
"""


def _form_edit(session: SessionConfig, audio: AudioSettings, **edits: object) -> tuple[SessionConfig, AudioSettings]:
    """What the settings screen hands over after the user edits these fields (by field id, '_' for '-')."""
    values = values_from(session, audio)
    values.update({key.replace("_", "-"): value for key, value in edits.items()})
    return build(values, session, audio)


def test_f3_saves_only_the_screen_changes_into_the_config_it_came_from(tmp_path: Path) -> None:
    config = tmp_path / "mine.toml"
    config.write_text(USER_FILE, encoding="utf-8")
    (tmp_path / "wav").write_bytes(b"")
    dotenv = tmp_path / ".env"
    dotenv.write_text("AZURE_VOICE_LIVE_ENDPOINT=https://from-dotenv.example/\n")
    one_offs = {("audio", "enabled"): False, ("audio", "input_file"): tmp_path / "wav", ("log_level",): "DEBUG",
                ("audio", "jitter_ms"): 200}
    settings = load_settings(one_offs, config_path=config, environ={}, dotenv_path=dotenv)
    session, audio = _form_edit(settings.session, settings.audio, vad_silence="650", echo_gate=True)
    settings.session, settings.audio = session, audio

    assert save_settings(settings) == config
    saved = read_toml(config)
    assert saved["session"]["turn_detection"] == {"threshold": 0.7, "silence_duration_ms": 650}
    assert saved["audio"] == {"echo_gate": True}  # not enabled, input_file or the one-off jitter_ms
    assert saved["connection"] == {"api_key": "saved-with-save-key-0123", "model": "gpt-4o"}  # no endpoint
    assert saved["keys"] == {"mute": "ctrl+m"} and "log_level" not in saved
    text = config.read_text(encoding="utf-8")
    for comment in ("# my voice settings, tuned by hand", "# stored with --save-key", "# quiet room"):
        assert comment in text
    assert not default_config_path().exists()
    reloaded = load_settings(config_path=config, environ={})
    assert reloaded.session.turn_detection == session.turn_detection and reloaded.audio.echo_gate


def test_the_saved_file_is_private_and_nothing_is_left_behind(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = save_changes(tmp_path / "cfg" / "config.toml", {("audio", "jitter_ms"): 120})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]
    assert read_toml(path) == {"audio": {"jitter_ms": 120}}


def test_switching_sections_off_and_on_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(USER_FILE, encoding="utf-8")
    settings = load_settings(config_path=path, environ={})
    off, _ = _form_edit(settings.session, settings.audio, vad_type="off", noise="off", voice_temperature="")
    save_changes(path, session_changes(settings.session, off))
    reloaded = load_settings(config_path=path, environ={})
    assert reloaded.session.turn_detection is None and reloaded.session.input_audio_noise_reduction is None
    assert reloaded.session.voice.temperature is None and reloaded.session == off
    on, _ = _form_edit(reloaded.session, reloaded.audio, vad_type="server_vad", vad_threshold="0.55")
    save_changes(path, session_changes(reloaded.session, on))
    again = load_settings(config_path=path, environ={}).session
    assert again.turn_detection is not None and again.turn_detection.type == "server_vad"
    assert again.turn_detection.threshold == 0.55 and again == on


def test_diffs_name_leaves_and_ignore_what_the_screen_does_not_edit() -> None:
    before = SessionConfig()
    after = before.model_copy(update={"instructions": "Be brief."})
    assert session_changes(before, after) == {("session", "instructions"): "Be brief."}
    assert session_changes(before, before) == {}
    audio = AudioSettings()
    changed = audio.model_copy(update={"enabled": False, "muted": True, "jitter_ms": 40, "input_device": "2"})
    assert audio_changes(audio, changed) == {("audio", "jitter_ms"): 40, ("audio", "input_device"): "2"}
    assert settings_changes(load_settings(environ={})) == {}


def test_save_key_adds_only_the_key_and_keeps_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from app import cli

    config = tmp_path / "c.toml"
    config.write_text("# mine\n[session.turn_detection]\nthreshold = 0.7\n", encoding="utf-8")
    monkeypatch.setenv("AZURE_VOICE_LIVE_API_KEY", "k3y-to-save-9f8e")
    monkeypatch.setattr(cli, "run_app", lambda settings: 0)
    assert cli.main(["--endpoint", "https://x.services.ai.azure.com/", "--config", str(config), "--save-key",
                     "--no-audio", "--jitter-ms", "300"]) == 0
    assert read_toml(config) == {"session": {"turn_detection": {"threshold": 0.7}},
                                 "connection": {"api_key": "k3y-to-save-9f8e"}}
    assert config.read_text().startswith("# mine\n") and "k3y-to-save-9f8e" not in capsys.readouterr().out


def test_a_save_that_would_not_load_or_cannot_be_read_is_one_sentence_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(USER_FILE, encoding="utf-8")
    with pytest.raises(WriteError) as info:
        save_changes(path, {("session", "turn_detection", "threshold"): 3})
    assert "session.turn_detection.threshold must be less than or equal to 1" in str(info.value)
    assert path.read_text(encoding="utf-8") == USER_FILE
    path.write_bytes('[session]\ninstructions = "caf\u00e9"\n'.encode("latin-1"))
    with pytest.raises(WriteError, match="not UTF-8"):
        save_changes(path, {("audio", "jitter_ms"): 100})
    blocker = tmp_path / "plain"
    blocker.write_text("x")
    with pytest.raises(WriteError) as info:
        save_changes(blocker / "c.toml", {("audio", "jitter_ms"): 100})
    assert str(info.value).endswith(".") and "\n" not in str(info.value)
