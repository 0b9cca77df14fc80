"""The session's thread always ends when it is told to stop, even when the one stopping it is cancelled.

A CI run hung for 90 minutes: an App quitting after a failed first connection had its quit worker
cancelled mid-stop, the session's loop ran on, and the interpreter waited for that thread forever.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from app.protocol.session import SessionConfig
from app.voicelive.auth import CredentialProvider
from app.voicelive.session import VoiceLiveSession
from app.voicelive.session_thread import SessionThread
from tests.helpers import wait_for
from tests.ui_harness import connected, make_app


async def _silent_server() -> asyncio.Server:
    """Accepts TCP and never answers the WebSocket handshake: the session's run stays in flight."""
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()
    return await asyncio.start_server(hold, "127.0.0.1", 0)


async def test_a_cancelled_stop_still_ends_the_session_thread() -> None:
    server = await _silent_server()
    port = server.sockets[0].getsockname()[1]
    control = SessionThread(VoiceLiveSession(SessionConfig(), lambda notice: None, api_version="2026-07-15"))
    thread = threading.Thread(target=control.run_forever, daemon=True)
    thread.start()
    control.start(f"ws://127.0.0.1:{port}/voice-live/realtime", CredentialProvider(api_key="k"))
    await wait_for(lambda: control.running, timeout=5)
    stopping = asyncio.create_task(control.stop(timeout=5.0))
    await asyncio.sleep(0.05)  # inside stop, waiting for the session to close
    stopping.cancel()
    try:
        await wait_for(lambda: not thread.is_alive(), timeout=5)
    finally:
        if thread.is_alive():
            control.loop.call_soon_threadsafe(control.loop.stop)
        server.close()
    assert control.loop.is_closed()


async def test_stop_before_the_thread_runs_still_ends_it() -> None:
    control = SessionThread(VoiceLiveSession(SessionConfig(), lambda notice: None, api_version="2026-07-15"))
    await control.stop()
    thread = threading.Thread(target=control.run_forever, daemon=True)
    thread.start()
    await wait_for(lambda: not thread.is_alive(), timeout=5)


async def test_a_quit_cut_short_by_the_app_shutting_down_still_closes_everything(tmp_path: Path) -> None:
    app, emulator = make_app(tmp_path)
    async with app.run_test(size=(100, 30)):
        await connected(app)
        quitting = asyncio.create_task(app.action_quit())
        await asyncio.sleep(0)  # the quit has begun: the session is closing
        quitting.cancel()
    # The App's own unmount waited for the one closing, which the cancelled quit had started.
    await wait_for(lambda: app.control.loop.is_closed(), timeout=5)
    with pytest.raises(OSError):  # the emulator was stopped too: nothing listens on its port
        await asyncio.open_connection("127.0.0.1", emulator.port)
