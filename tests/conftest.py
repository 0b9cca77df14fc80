"""Test set-up: virtual sound devices before anything imports sounddevice, and an isolated home.

The virtual devices come from the repository's own rig, `scripts/virtual-audio.sh` (a private PulseAudio
with two null sinks); it is started once per run, in pytest_configure, because PortAudio lists devices
when sounddevice is first imported. With PULSE_SERVER already set, that sound server is used as it is.
Tests that need audio use the `audio_devices` fixture: it skips with the reason and the packages to install
when the devices are unavailable, unless VOICELIVE_REQUIRE_AUDIO=1 (as in CI), where it fails instead.
"""

from __future__ import annotations

import ctypes.util
import faulthandler
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AUDIO_SCRIPT = Path(os.environ.get("VIRTUAL_AUDIO_SCRIPT", ROOT / "scripts" / "virtual-audio.sh"))
INSTALL_AUDIO = "apt install pulseaudio pulseaudio-utils libportaudio2 libasound2-plugins"
AUDIO_TOOLS = ("pulseaudio", "pactl", "pacat", "parec", "paplay")
_audio_state: dict[str, object] = {"ok": False, "reason": "not started", "started_here": False}


def _missing_audio_packages() -> str | None:
    """Why the rig cannot run here, naming what to install; None when everything is there."""
    missing = [tool for tool in AUDIO_TOOLS if shutil.which(tool) is None]
    if missing:
        return f"PulseAudio is not installed ({', '.join(missing)} not found); install it: {INSTALL_AUDIO}"
    if ctypes.util.find_library("portaudio") is None:
        return f"PortAudio is not installed (libportaudio2); install it: {INSTALL_AUDIO}"
    return None


def _start_virtual_audio() -> None:
    if os.environ.get("PULSE_SERVER"):
        _audio_state.update(ok=True, reason="already running")
        return
    missing = _missing_audio_packages()
    if missing:
        _audio_state["reason"] = missing
        return
    # One daemon per checkout by default, so two clones testing at once do not hear each other.
    checkout = hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]
    os.environ.setdefault("VIRTUAL_AUDIO_DIR", str(Path(tempfile.gettempdir()) / f"voicelive-audio-{checkout}"))
    already = _daemon_running()
    try:
        out = subprocess.run(["bash", str(AUDIO_SCRIPT), "start"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _audio_state["reason"] = f"{AUDIO_SCRIPT.name} failed: {exc}"
        return
    if out.returncode != 0:
        _audio_state["reason"] = f"{AUDIO_SCRIPT.name} start failed: {out.stderr.strip()[-300:]}"
        return
    for line in out.stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            key, value = line[len("export ") :].split("=", 1)
            os.environ[key] = value
    # Stop it at the end only if this run started it: another run (or CI) may be using it.
    _audio_state.update(ok=True, reason="started", started_here=not already)


def _daemon_running() -> bool:
    env = subprocess.run(["bash", str(AUDIO_SCRIPT), "env"], capture_output=True, text=True, timeout=30)
    exports = dict(line[len("export ") :].split("=", 1) for line in env.stdout.splitlines() if "=" in line)
    try:
        probe = subprocess.run(["pactl", "info"], capture_output=True, timeout=10, env={**os.environ, **exports})
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def pytest_configure(config: pytest.Config) -> None:
    _start_virtual_audio()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that needs the sound devices carries the `audio` mark, so `-m "not audio"` selects the rest."""
    for item in items:
        if "audio_devices" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.audio)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _audio_state.get("started_here"):
        subprocess.run(["bash", str(AUDIO_SCRIPT), "stop"], capture_output=True, timeout=30, check=False)
    _exit_even_if_a_thread_lingers()


def _exit_even_if_a_thread_lingers(grace_s: float = 60.0) -> None:
    """A thread some test leaked (a session loop never stopped) must fail the run, not hang it.

    After the summary, the interpreter joins every non-daemon thread; one that never ends kept a CI run
    waiting for 90 minutes. This daemon watchdog names the threads still alive after the grace period,
    prints their stacks, and ends the process with a failure.
    """
    def watch() -> None:
        time.sleep(grace_s)
        lingering = [t.name for t in threading.enumerate() if not t.daemon and t is not threading.main_thread()]
        if not lingering:
            return  # something else is slow (an atexit handler): not a leaked thread
        sys.stdout.flush()
        sys.stderr.write(f"\nconftest: threads still running {grace_s:.0f} s after the tests ended: {lingering}\n")
        faulthandler.dump_traceback(all_threads=True)
        sys.stderr.flush()
        os._exit(3)

    threading.Thread(target=watch, name="exit-watchdog", daemon=True).start()


@pytest.fixture
def audio_devices() -> None:
    """Require working (virtual or real) sound devices.

    It also collects and freezes what earlier tests left on the heap: in one long pytest process a full
    collection can hold the GIL past the sound card's buffer, which a real app run never sees.
    """
    import gc

    gc.collect()
    gc.freeze()
    reason = None
    if not _audio_state["ok"]:
        reason = str(_audio_state["reason"])
    else:
        from app.audio.devices import AudioUnavailable, list_devices

        try:
            if not any(d.max_input > 0 for d in list_devices()):
                reason = "no input device"
        except AudioUnavailable as exc:
            reason = f"{exc} (install: {INSTALL_AUDIO})"
    if reason:
        if os.environ.get("VOICELIVE_REQUIRE_AUDIO") == "1":
            pytest.fail(f"audio devices required but unavailable: {reason}")
        pytest.skip(f"no audio devices: {reason}")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No test reads or writes the developer's config, logs or .env, or sees their Azure variables."""
    home = tmp_path / "home"
    home.mkdir()
    for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    for var in ("AZURE_VOICE_LIVE_ENDPOINT", "AZURE_VOICE_LIVE_API_KEY", "VOICE_LIVE_MODEL",
                "AZURE_VOICE_LIVE_API_VERSION", "AZURE_VOICE_LIVE_AGENT_NAME", "AZURE_VOICE_LIVE_AGENT_PROJECT",
                "AZURE_VOICE_LIVE_AGENT_VERSION", "AZURE_VOICE_LIVE_CONVERSATION_ID"):
        monkeypatch.delenv(var, raising=False)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    yield home


@pytest.fixture
async def emulator() -> AsyncIterator[object]:
    from app.emulator import EmulatorOptions, EmulatorServer

    # Tests read a session after its connection closed, so this fixture keeps closed ones (serve keeps none).
    server = EmulatorServer(api_key="test-key-0123456789", options=EmulatorOptions(speed=8.0, keep_closed_sessions=64))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
