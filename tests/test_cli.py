"""The command line: help, the no-settings sentence, config errors, and the app under tmux."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from app.cli import NO_SETTINGS, main


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


def test_unreachable_endpoint_exits_with_its_sentence(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "app", "--endpoint", "http://127.0.0.1:9", "--no-audio", "--log-file",
         str(tmp_path / "l.log")],
        capture_output=True, text=True, timeout=60, env={**os.environ, "AZURE_VOICE_LIVE_API_KEY": "k-123456"},
    )
    assert out.returncode == 2
    assert "Nothing is listening at 127.0.0.1:9" in out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr


def test_help_lists_the_options() -> None:
    out = subprocess.run([sys.executable, "-m", "app", "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    for flag in ("--endpoint", "--local", "--input-device", "--no-audio", "--config", "--log-file"):
        assert flag in out.stdout


def _command() -> list[str]:
    exe = shutil.which("voicelive-tui", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "app"]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_local_under_tmux_shows_a_readable_screen_and_quits(tmp_path: Path) -> None:
    session = "vl-" + uuid.uuid4().hex[:8]
    log_file = tmp_path / "app.log"
    command = " ".join([*_command(), "--local", "--log-file", str(log_file)]) + "; echo EXIT=$?; sleep 30"
    env_args = [arg for key in ("PULSE_SERVER", "PULSE_RUNTIME_PATH", "PULSE_COOKIE", "XDG_CONFIG_HOME",
                                "XDG_STATE_HOME") if key in os.environ for arg in ("-e", f"{key}={os.environ[key]}")]
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", *env_args, command],
                   check=True)
    try:
        screen = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                                    text=True).stdout
            if "connected" in screen:
                break
            time.sleep(0.3)
        assert "connected" in screen and "emulator" in screen, screen
        for label in ("Mute", "Interrupt", "Type", "Quit"):
            assert label in screen, screen
        assert "Traceback" not in screen
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "EXIT=" not in screen:
            time.sleep(0.2)
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                                    text=True).stdout
        assert "EXIT=0" in screen, screen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_kill_9_loses_no_completed_turn(tmp_path: Path) -> None:
    import json
    import signal

    session = "vl-" + uuid.uuid4().hex[:8]
    data_home = tmp_path / "data"
    env_args = ["-e", f"XDG_DATA_HOME={data_home}", "-e", f"XDG_CONFIG_HOME={tmp_path / 'config'}"]
    command = "exec " + " ".join([*_command(), "--local", "--no-audio", "--log-file", str(tmp_path / "app.log")])
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", *env_args, command],
                   check=True)
    try:
        pid = int(subprocess.run(["tmux", "display", "-p", "-t", session, "#{pane_pid}"], capture_output=True,
                                 text=True, check=True).stdout.strip())

        def records() -> list[dict]:
            files = list((data_home / "voicelive-tui" / "transcripts").glob("*.jsonl"))
            return [json.loads(line) for f in files for line in f.read_text().splitlines()] if files else []

        def wait(predicate: object, timeout: float = 20) -> None:
            deadline = time.monotonic() + timeout
            while not predicate() and time.monotonic() < deadline:  # type: ignore[operator]
                time.sleep(0.2)

        def screen() -> str:
            return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                                  text=True).stdout

        wait(lambda: "connected" in screen())
        for n, message in enumerate(["first message", "second message"], start=1):
            subprocess.run(["tmux", "send-keys", "-t", session, "t"], check=True)
            time.sleep(0.3)
            subprocess.run(["tmux", "send-keys", "-t", session, "-l", message], check=True)
            subprocess.run(["tmux", "send-keys", "-t", session, "Enter", "Escape"], check=True)
            wait(lambda n=n: len(records()) >= 2 * n)
        os.kill(pid, signal.SIGKILL)
        got = records()
        assert [r["role"] for r in got] == ["user", "assistant", "user", "assistant"]
        assert got[0]["text"] == "first message" and got[2]["text"] == "second message"
        assert all(r["status"] == "completed" for r in got)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)


def test_serve_prints_where_and_the_key_and_stops_on_ctrl_c() -> None:
    import signal

    proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", "0", "--api-key", "printed-key"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        second = proc.stdout.readline() if proc.stdout else ""
        assert first.startswith("Voice Live emulator on http://127.0.0.1:") and "printed-key" in second
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
    finally:
        proc.kill()
