"""The command line: help, the no-settings sentence, config errors, and the app under tmux."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import NO_SETTINGS, main
from app.config import Settings
from tests.helpers import TmuxApp

ROOT = Path(__file__).resolve().parents[1]


def test_no_settings_says_how_to_set_them_and_offers_local(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert NO_SETTINGS in err and "--local" in err and "Traceback" not in err


def test_invalid_config_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[session.turn_detection]\nthreshold = 7\n")
    assert main(["--local", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "session.turn_detection.threshold" in err and str(cfg) in err


def test_unreachable_endpoint_exits_with_its_sentence_and_the_log_says_where_it_came_from(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("AZURE_VOICE_LIVE_ENDPOINT=http://127.0.0.1:9\n")
    out = subprocess.run(
        [sys.executable, "-m", "app", "--no-audio", "--log-file", str(tmp_path / "l.log")],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, "AZURE_VOICE_LIVE_API_KEY": "k-123456", "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 2
    assert "Nothing is listening at 127.0.0.1:9" in out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    assert f"endpoint 127.0.0.1:9 from the .env file {tmp_path / '.env'}" in (tmp_path / "l.log").read_text()


def _one_sentence(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("voicelive-tui: ") and err.endswith(".") and "\n" not in err and "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("endpoint", "fragment"),
    [
        ("https://res.services.ai.azure.com:99999/", "port 99999 is outside 1–65535"),
        ("https://res.services.ai.azure.com:0/", "port 0 is outside 1–65535"),
        ("https://[::1", "not a valid URL"),
        ("https://bad host/", "not a valid host name"),
        ("http://res.services.ai.azure.com/", "--allow-insecure"),
        ("ws://192.0.2.10:8765/", "--allow-insecure"),
    ],
)
def test_an_unusable_endpoint_is_one_sentence_before_anything_starts(
        endpoint: str, fragment: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from app import cli

    started: list[object] = []
    monkeypatch.setattr(cli, "run_app", started.append)
    assert main(["--endpoint", endpoint, "--no-audio"]) == 2
    assert fragment in _one_sentence(capsys) and not started


def test_allow_insecure_lets_plain_text_through_to_another_host(monkeypatch: pytest.MonkeyPatch) -> None:
    from app import cli

    started: list[Settings] = []

    def run_app(settings: Settings) -> int:
        started.append(settings)
        return 0

    monkeypatch.setattr(cli, "run_app", run_app)
    assert main(["--endpoint", "http://192.0.2.10:8765/", "--no-audio", "--allow-insecure"]) == 0
    assert started[0].connection.allow_insecure


def test_an_insecure_endpoint_from_dotenv_is_refused_and_named(capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from app import cli

    monkeypatch.setattr(cli, "run_app", lambda settings: 0)
    Path(".env").write_text("AZURE_VOICE_LIVE_ENDPOINT=http://attacker.example/\nAZURE_VOICE_LIVE_API_KEY=k-1234\n")
    assert main(["--no-audio"]) == 2
    err = _one_sentence(capsys)
    assert "--allow-insecure" in err and f"the .env file {Path.cwd() / '.env'}" in err
    Path(".env").write_text("AZURE_VOICE_LIVE_ENDPOINT=http://attacker.example/\nALLOW_INSECURE=1\n")
    assert main(["--no-audio"]) == 2  # no variable in a .env can switch the check off


def test_a_config_file_that_is_not_utf8_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_bytes('[session]\ninstructions = "caf\u00e9"\n'.encode("latin-1"))
    assert main(["--local", "--config", str(cfg)]) == 2
    assert "not UTF-8" in _one_sentence(capsys)
    Path(".env").write_bytes("AZURE_VOICE_LIVE_ENDPOINT=https://caf\u00e9/\n".encode("latin-1"))
    assert main(["--local"]) == 2
    assert "not UTF-8" in _one_sentence(capsys)


@pytest.mark.parametrize("where", ["/", "under a regular file", "in a read-only directory"])
def test_an_unusable_log_file_is_one_sentence_and_exit_2(tmp_path: Path, where: str) -> None:
    (tmp_path / "plain").write_text("x")
    (tmp_path / "read-only").mkdir(mode=0o500)
    if where == "in a read-only directory" and os.access(tmp_path / "read-only", os.W_OK):
        pytest.skip("root writes into a read-only directory; the case under a regular file covers this for root")
    log_file = {"/": "/", "under a regular file": str(tmp_path / "plain" / "app.log"),
                "in a read-only directory": str(tmp_path / "read-only" / "app.log")}[where]
    out = subprocess.run([sys.executable, "-m", "app", "--local", "--no-audio", "--log-file", log_file],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 2, out.stderr
    err = out.stderr.strip()
    assert log_file in err and err.endswith(".") and "\n" not in err and "Traceback" not in err


def test_help_lists_the_options() -> None:
    out = subprocess.run([sys.executable, "-m", "app", "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    for flag in ("--endpoint", "--local", "--input-device", "--no-audio", "--config", "--log-file"):
        assert flag in out.stdout


def _command() -> list[str]:
    exe = shutil.which("voicelive-tui", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "app"]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt install tmux)")
def test_local_under_tmux_shows_a_readable_screen_and_quits(tmp_path: Path) -> None:
    log_file = tmp_path / "app.log"
    command = " ".join([*_command(), "--local", "--log-file", str(log_file)]) + "; echo EXIT=$?; sleep 30"
    env = {key: os.environ[key] for key in ("PULSE_SERVER", "PULSE_RUNTIME_PATH", "PULSE_COOKIE", "XDG_CONFIG_HOME",
                                            "XDG_STATE_HOME") if key in os.environ}
    app = TmuxApp(command, env=env)
    try:
        screen = app.wait_for_text("connected", timeout=30)
        assert "emulator" in screen, screen
        for label in ("Mute", "Interrupt", "Type", "Quit"):
            assert label in screen, screen
        assert "Traceback" not in screen
        app.press("q")
        app.wait_for(lambda s: "EXIT=" in s, timeout=10, what="the app to exit")
        assert "EXIT=0" in app.screen(), app.screen()
    finally:
        app.close()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt install tmux)")
def test_kill_9_loses_no_completed_turn(tmp_path: Path) -> None:
    import json
    import signal

    data_home = tmp_path / "data"
    env = {"XDG_DATA_HOME": str(data_home), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    command = "exec " + " ".join([*_command(), "--local", "--no-audio", "--log-file", str(tmp_path / "app.log")])
    app = TmuxApp(command, env=env)
    try:
        def records() -> list[dict[str, object]]:
            files = list((data_home / "voicelive-tui" / "transcripts").glob("*.jsonl"))
            return [json.loads(line) for f in files for line in f.read_text().splitlines()] if files else []

        app.wait_for_text("connected", timeout=30)
        for n, message in enumerate(["first message", "second message"], start=1):
            app.press_until("t", "Type a message")
            app.type(message)
            app.wait_for_text(message, timeout=5)
            app.press("Enter", "Escape")
            want = 2 * n
            app.wait_for(lambda _screen: len(records()) >= want, what=f"{want} transcript records")  # noqa: B023
        os.kill(app.pid(), signal.SIGKILL)
        got = records()
        assert [r["role"] for r in got] == ["user", "assistant", "user", "assistant"]
        assert got[0]["text"] == "first message" and got[2]["text"] == "second message"
        assert all(r["status"] == "completed" for r in got)
    finally:
        app.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "sigterm"])
def test_serve_prints_where_and_the_key_and_stops_on_ctrl_c(signum: int) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", "0", "--api-key", "printed-key"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        second = proc.stdout.readline() if proc.stdout else ""
        assert first.startswith("Voice Live emulator on http://127.0.0.1:") and "printed-key" in second
        proc.send_signal(signum)
        assert proc.wait(timeout=10) == 0
        assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
    finally:
        proc.kill()
