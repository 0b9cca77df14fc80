"""Secrets: a whole session at DEBUG with a known key, and one with a known Entra token; then every file
the app wrote (log, transcript, exports, config) and the screen are searched for them."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest

from app.config import default_config_path, load_settings
from app.emulator.server import EmulatorOptions, EmulatorServer
from app.logs import setup_logging
from app.screens.settings import SettingsScreen
from app.services import Services
from app.tui import VoiceLiveApp
from tests.helpers import wait_for

KEY = "k3y-7c1f0e9a4b2d8e6f1a3c5b7d9e0f2a4c"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.t0ken-pa4yl0ad-9f8e7d6c5b4a.s1gnature-00aa11bb22cc"


class FakeCredential:
    """Stands in for DefaultAzureCredential (no HTTP): hands out a known token and counts the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str) -> Any:
        from azure.core.credentials import AccessToken

        self.calls.append(scopes)
        return AccessToken(TOKEN, int(time.time()) + 3600)

    async def close(self) -> None:
        pass


def _every_file(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize("mode", ["key", "entra"])
async def test_no_secret_in_any_file_or_on_screen(tmp_path: Path, isolated_home: Path, mode: str) -> None:
    secret = KEY if mode == "key" else TOKEN
    options = EmulatorOptions(speed=8.0, bearer_token=TOKEN if mode == "entra" else None)
    log_path = tmp_path / "logs" / "voicelive.log"
    handler = setup_logging(log_path, "DEBUG", [KEY] if mode == "key" else [])
    credential = FakeCredential()
    try:
        async with EmulatorServer(api_key=KEY, options=options) as emulator:
            environ = {"AZURE_VOICE_LIVE_ENDPOINT": emulator.endpoint}
            if mode == "key":
                environ["AZURE_VOICE_LIVE_API_KEY"] = KEY
            settings = load_settings(environ=environ)
            assert settings.connection.auth_mode == mode
            app = VoiceLiveApp(settings, Services(audio_error="text mode for this test", credential=credential,
                                                  transcript_dir=str(isolated_home / "transcripts")))
            async with app.run_test(size=(120, 40)) as pilot:
                await wait_for(lambda: app.main.status.state == "connected", timeout=15)
                app.control.send_text("tell me a secret")
                turns = app.session.conversation.turns
                await wait_for(lambda: len(turns) == 2 and turns[1].done, 15)
                stem = app.transcript_path.with_suffix("")
                app.action_export("markdown")
                app.action_export("jsonl")
                await wait_for(lambda: all(stem.with_name(f"{stem.name}-export.{s}").exists() for s in ("md", "jsonl")))
                await pilot.press("s")
                assert isinstance(app.screen, SettingsScreen)
                await pilot.press("f3")
                await wait_for(default_config_path().exists, timeout=5)
                await pilot.press("escape")
                screens = [app.export_screenshot()]
                await pilot.press("question_mark")
                screens.append(app.export_screenshot())
                await pilot.press("escape", "q")
            if mode == "entra":
                assert credential.calls == [("https://ai.azure.com/.default",)]
                assert emulator.handshakes[-1].get("Authorization") == "***"
    finally:
        handler.flush()
        logging.getLogger().removeHandler(handler)
        handler.close()
    files = _every_file(isolated_home) + _every_file(tmp_path / "logs")
    names = {p.suffix for p in files}
    assert {".log", ".jsonl", ".md", ".toml"} <= names, names
    for path in files:
        text = path.read_text(errors="replace")
        assert secret not in text and secret[:16] not in text, path
    assert "session.update" in log_path.read_text()  # DEBUG frames were really logged
    for screen in screens:
        assert secret not in screen and secret[:16] not in screen


def test_save_key_is_explicit_and_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    import os
    import stat

    from app import cli
    from app.config import read_toml

    monkeypatch.setenv("AZURE_VOICE_LIVE_API_KEY", KEY)
    monkeypatch.setattr(cli, "run_app", lambda settings: 0)
    config = tmp_path / "c.toml"
    assert cli.main(["--endpoint", "https://x.services.ai.azure.com/", "--config", str(tmp_path / "none.toml")]) == 2
    config.write_text("")
    assert cli.main(["--endpoint", "https://x.services.ai.azure.com/", "--config", str(config), "--save-key"]) == 0
    assert read_toml(config)["connection"]["api_key"] == KEY
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o600
    assert KEY not in capsys.readouterr().out


async def test_a_credential_error_is_one_sentence_saying_what_to_do(emulator: object) -> None:
    from app.protocol.endpoint import realtime_url
    from app.protocol.session import SessionConfig
    from app.voicelive import notices as nt
    from app.voicelive.auth import CredentialProvider
    from app.voicelive.session import VoiceLiveSession

    class NoLogin:
        async def get_token(self, *scopes: str) -> Any:
            raise RuntimeError("DefaultAzureCredential failed to retrieve a token; secret detail " + TOKEN)

        async def close(self) -> None:
            pass

    seen: list[nt.Notice] = []
    url = realtime_url(emulator.endpoint, api_version="v", model="m")  # type: ignore[attr-defined]
    session = VoiceLiveSession(SessionConfig(), seen.append)
    await session.run(url, CredentialProvider(credential=NoLogin()))
    failed = [n for n in seen if isinstance(n, nt.ConnectionChanged) and n.state == "failed"]
    assert failed and "az login" in failed[0].detail and TOKEN not in failed[0].detail
    assert failed[0].detail.count(".") >= 1 and "\n" not in failed[0].detail
