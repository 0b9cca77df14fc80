"""The installed app with its full TUI in a pseudo-terminal: a tmux pane on a tmux server of the bench's own.

Keys go in with tmux's `send-keys` (what a terminal would deliver); the screen is read with `capture-pane`.
A key whose timing is measured (`press_now`) goes through a control-mode client kept attached to the pane
(`tmux -C`): a `tmux send-keys` process costs ~9 ms of fork, exec and connect before the key is in the pty,
which a real terminal does not; on the open control channel the command is one write.
The app runs from an empty folder with its own XDG directories, so no user configuration, transcript
or `.env` is read or written, and the sound server's exports (PULSE_*) are passed through.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

SOCKET = f"bench-{os.getpid()}"  # one private tmux server per benchmark process
THIS_APP = Path(sys.executable).parent / "voicelive-tui"  # the app installed beside this interpreter
BEFORE_APP = Path("/work/wt/baseline/.venv/bin/voicelive-tui")  # the code before this round (afac862)


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True, check=False).stdout


async def atmux(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec("tmux", "-L", SOCKET, *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.DEVNULL)
    out, _ = await proc.communicate()
    return out.decode(errors="replace")


class KeyLine:
    """A tmux control-mode client attached to one session: commands written to it run without a new process.

    Its output (pane updates are turned off: `no-output`) is read and dropped, so tmux never waits on it; a
    command's `%end`/`%error` reply says the server has run it (the key is in the pty)."""

    def __init__(self, session: str) -> None:
        self.session = session
        self._proc: asyncio.subprocess.Process | None = None
        self._replies: asyncio.Queue[float] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            "tmux", "-L", SOCKET, "-C", "attach-session", "-t", self.session, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        self._reader = asyncio.create_task(self._read())
        await self.run("refresh-client -f no-output")

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        while line := await self._proc.stdout.readline():
            if line.startswith((b"%end ", b"%error ")):
                self._replies.put_nowait(time.monotonic())

    async def run(self, command: str, timeout: float = 5.0) -> float:
        """Write one command; returns when tmux replied (monotonic), or raises TimeoutError."""
        assert self._proc is not None and self._proc.stdin is not None
        while not self._replies.empty():
            self._replies.get_nowait()
        self._proc.stdin.write(command.encode() + b"\n")
        await self._proc.stdin.drain()
        return await asyncio.wait_for(self._replies.get(), timeout)

    async def close(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
            await self._proc.wait()
        if self._reader is not None:
            self._reader.cancel()


def kill_server() -> None:
    """End the bench's own tmux server (and anything left in it)."""
    subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True, check=False)


class TuiApp:
    """One app in one tmux pane (100×30 by default)."""

    def __init__(self, command: list[str], *, env: dict[str, str] | None = None, size: tuple[int, int] = (100, 30),
                 config: str | None = None) -> None:
        self.command = command
        self.env = env or {}
        self.size = size
        self.config = config
        self.name = "app-" + uuid.uuid4().hex[:6]
        self.folder = tempfile.TemporaryDirectory(prefix="bench-app-")
        self.launched_at = 0.0
        self.pid = 0
        self.send_ms: list[float] = []  # per `press_now`: from the write to tmux's reply (the key is in the pty)
        self._keys: KeyLine | None = None
        if config is not None:
            Path(self.folder.name, "config.toml").write_text(config)

    @classmethod
    def voicelive(cls, exe: Path, endpoint: str, api_key: str, config: str | None = None) -> TuiApp:
        app = cls([str(exe), "--endpoint", endpoint], env={"AZURE_VOICE_LIVE_API_KEY": api_key}, config=config)
        app.command += ["--log-file", f"{app.folder.name}/app.log"]
        if config is not None:
            app.command += ["--config", f"{app.folder.name}/config.toml"]
        return app

    async def start(self) -> float:
        """Launch; returns the monotonic time just before tmux was asked to run it."""
        home = self.folder.name
        env = {"XDG_CONFIG_HOME": f"{home}/config", "XDG_DATA_HOME": f"{home}/data",
               "XDG_STATE_HOME": f"{home}/state", "XDG_CACHE_HOME": f"{home}/cache", **self.env}
        env.update({k: v for k, v in os.environ.items() if k.startswith("PULSE_")})
        flags = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
        self.launched_at = time.monotonic()
        await atmux("new-session", "-d", "-s", self.name, "-x", str(self.size[0]), "-y", str(self.size[1]),
                    "-c", home, *flags, "exec " + " ".join(self.command))
        await atmux("set-option", "-t", self.name, "remain-on-exit", "off")
        text = (await atmux("display", "-p", "-t", self.name, "#{pane_pid}")).strip()
        self.pid = int(text) if text.isdigit() else 0
        return self.launched_at

    async def screen(self) -> str:
        return await atmux("capture-pane", "-p", "-t", self.name)

    async def diagnose(self) -> str:
        """What a run that missed its screen left behind, for the figure's record: is the process there, the
        pane's last lines, and the end of its log (when it has one)."""
        pane = [line.rstrip() for line in (await self.screen()).splitlines() if line.strip()][-6:]
        alive, tail = await asyncio.to_thread(self._process_and_log)
        return (f"process {'running' if alive else 'gone'}; pane: {' | '.join(pane) or '(empty)'}; "
                f"log: {' | '.join(tail) or '(none)'}")

    def _process_and_log(self) -> tuple[bool, list[str]]:
        log = Path(self.folder.name, "app.log")
        tail = log.read_text(errors="replace").splitlines()[-4:] if log.exists() else []
        return self.pid > 0 and Path(f"/proc/{self.pid}").exists(), tail

    async def wait_for(self, text: str, timeout: float = 30.0, every: float = 0.05) -> float | None:
        """Poll the screen until it shows `text`; the monotonic time it was seen, or None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in await self.screen():
                return time.monotonic()
            await asyncio.sleep(every)
        return None

    async def press(self, *keys: str) -> float:
        """Send keys; returns the monotonic time just before tmux was asked to deliver them."""
        at = time.monotonic()
        await atmux("send-keys", "-t", self.name, *keys)
        return at

    async def attach_keys(self) -> KeyLine:
        """Attach the control client for `press_now` (long before the keys that are timed: attaching is a
        client joining the session, which the app must not be busy with when a timed key comes)."""
        if self._keys is None:
            self._keys = KeyLine(self.name)
            await self._keys.open()
        return self._keys

    async def press_now(self, key: str) -> float:
        """Send one key (a plain key name) as a terminal would, through the attached control client; returns
        the monotonic time just before the command was written."""
        keys = await self.attach_keys()
        at = time.monotonic()
        replied = await keys.run(f"send-keys -t {self.name} {key}")
        self.send_ms.append((replied - at) * 1000)
        return at

    async def type_message(self, text: str) -> float:
        """`t`, the text, Enter, Escape: a typed turn as a user sends it."""
        await self.press("t")
        await asyncio.sleep(0.1)  # the prompt opens; keys typed before it has focus would go elsewhere
        await atmux("send-keys", "-t", self.name, "-l", text)
        at = await self.press("Enter")
        await self.press("Escape")
        return at

    async def quit(self, timeout: float = 10.0, quit_key: str = "q") -> None:
        """Quit with a key as a user would; kill the pane if it is still there after `timeout`. Its folder
        (config, log) stays until `stop`."""
        if self._keys is not None:
            await self._keys.close()
            self._keys = None
        await self.press(quit_key)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.name in await atmux("list-sessions", "-F", "#{session_name}"):
            await asyncio.sleep(0.1)
        await atmux("kill-session", "-t", self.name)

    async def stop(self, timeout: float = 10.0, quit_key: str = "q") -> None:
        await self.quit(timeout, quit_key)
        self.folder.cleanup()

    async def __aenter__(self) -> TuiApp:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
