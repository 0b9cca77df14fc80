"""Keeping a session connected: connect, serve, back off, reconnect — over as many sockets as it takes.

Connections die (networks drop; the service closes every session at 60 minutes). The loop reconnects
with backoff and tells its owner at each step; the owner re-sends its configuration and replays the
conversation (`on_open`). A close the user asked for never reconnects. Shortly before the service's cap
it reconnects on purpose, between turns if it can. A socket's frames leave through the outbox, one at a
time, so a frame the dead socket never sent is still in the outbox when the connection is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from app.protocol import client_events as ce
from app.voicelive.auth import AuthError, CredentialProvider
from app.voicelive.connection import ConnectError, open_connection
from app.voicelive.outbox import Outbox
from app.voicelive.reconnect import ReconnectPolicy

log = logging.getLogger(__name__)
FATAL_STATUSES = {400, 401, 403, 404}


@dataclass
class ConnectionHooks:
    """How the loop reaches its owner (the session); every hook runs on the loop's event loop."""

    state: Callable[[str, str, int], None]  # (connecting|connected|reconnecting|closed|failed, detail, attempt)
    opened: Callable[[], None]  # a new socket: queue this connection's preamble
    frame: Callable[[str | bytes], None]
    lost: Callable[[], None]
    busy: Callable[[], bool]  # mid-turn: a planned reconnect waits for a pause
    expires_at: Callable[[], float | None]  # wall-clock end of the service's session, once known


class ConnectionLoop:
    def __init__(self, outbox: Outbox, hooks: ConnectionHooks, *, policy: ReconnectPolicy | None = None,
                 planned_margin_s: float = 60.0) -> None:
        self.outbox = outbox
        self.hooks = hooks
        self.policy = policy or ReconnectPolicy()
        self.planned_margin_s = planned_margin_s
        self.connections = 0
        self.frames_received = 0
        self.running = False
        self._ws: ClientConnection | None = None
        self._closing = False
        self._restart = False  # close this socket and connect again at once (planned, or asked for)
        self._wake = asyncio.Event()
        self._closer: asyncio.Future[None] | None = None  # a close in progress (held so it is not collected)

    async def run(self, url: str, credentials: CredentialProvider) -> None:
        """Connect, serve, reconnect until closed or out of attempts. Never raises; reports through hooks."""
        self.running, self._closing = True, False
        try:
            await self._run(url, credentials)
        finally:
            self.running = False
            self._ws = None

    async def _run(self, url: str, credentials: CredentialProvider) -> None:
        attempt = 0
        while not self._closing:
            self.hooks.state("connecting" if attempt == 0 else "reconnecting", "", attempt)
            self.policy.note_attempt()
            try:
                creds = await credentials.get()
                self._ws, request_id = await open_connection(url, creds)
            except AuthError as exc:
                self.hooks.state("failed", str(exc), 0)
                return
            except ConnectError as exc:
                log.warning("connection failed: %s", exc)
                if self.connections == 0 or exc.status in FATAL_STATUSES:
                    self.hooks.state("failed", str(exc), 0)
                    return
                attempt += 1
                if not await self._wait_before(attempt, str(exc), exc.retry_after):
                    return
                continue
            if self._closing:  # closed while the handshake was under way: nobody wants this socket
                await self._ws.close(1000, "client closing")
                break
            attempt = 0
            reason = await self._serve(self._ws, request_id)
            if self._closing:
                break
            if self._restart:
                self._restart = False
                continue
            attempt = 1
            if not await self._wait_before(attempt, reason, None):
                return
        self.hooks.state("closed", "", 0)

    def reconnect_now(self) -> None:
        """Drop the current socket (with 1000) and connect again without waiting."""
        ws = self._ws
        if ws is None:
            self._wake.set()  # waiting out a backoff: try now
            return
        self._restart = True
        self._closer = asyncio.ensure_future(ws.close(1000, "reconnecting on request"))

    async def close(self) -> None:
        """Close with 1000 on request; never reconnects afterwards."""
        self._closing = True
        self._wake.set()
        ws = self._ws
        if ws is not None:
            await ws.close(1000, "client closing")

    async def _wait_before(self, attempt: int, reason: str, retry_after: float | None) -> bool:
        """Back off before another attempt; False when the session should give up (or was closed)."""
        if self.policy.exhausted(attempt):
            self.hooks.state("failed", f"Gave up reconnecting after {self.policy.max_attempts} attempts ({reason}); "
                             "press r to try again.", 0)
            return False
        delay = self.policy.delay(attempt, retry_after)
        log.info("reconnecting in %.1f s (attempt %d): %s", delay, attempt, reason)
        self.hooks.state("reconnecting", reason, attempt)
        self._wake.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)
        return not self._closing

    async def _serve(self, ws: ClientConnection, request_id: str) -> str:
        """One connection's life: its preamble first, then send and receive until it closes."""
        self.connections += 1
        self.hooks.opened()
        self.hooks.state("connected", f"request id {request_id}", 0)
        tasks = [asyncio.create_task(self._send_loop(ws), name="voicelive-send"),
                 asyncio.create_task(self._planned_reconnect(ws), name="voicelive-cap")]
        try:
            async for frame in ws:
                self.frames_received += 1
                self.hooks.frame(frame)
        except ConnectionClosed:
            pass
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self.hooks.lost()
        code = ws.close_code if ws.close_code is not None else 1006
        return f"connection lost (code {code}{': ' + ws.close_reason if ws.close_reason else ''})"

    async def _send_loop(self, ws: ClientConnection) -> None:
        """Control frames first, one at a time (a frame leaves the outbox only once sent), then audio."""
        outbox = self.outbox
        try:
            while True:
                await outbox.wait()
                while (frame := outbox.next_control()) is not None:
                    await ws.send(frame.text)
                    outbox.sent_control()
                for block in outbox.take_audio():
                    await ws.send(ce.audio_append_json(block))
        except ConnectionClosed:
            return

    async def _planned_reconnect(self, ws: ClientConnection) -> None:
        """Reconnect shortly before the service's session cap, waiting for a pause in the conversation."""
        await asyncio.sleep(0.5)  # session.created tells us when this session expires
        expires_at = self.hooks.expires_at()
        if expires_at is None:
            return
        remaining = expires_at - time.time()
        margin = min(self.planned_margin_s, max(1.0, remaining * 0.25))
        await asyncio.sleep(max(0.0, remaining - margin))
        deadline = time.monotonic() + margin * 0.8
        while self.hooks.busy() and time.monotonic() < deadline:  # noqa: ASYNC110 - playback state has no event
            await asyncio.sleep(0.1)
        log.info("planned reconnect before the session cap")
        self._restart = True
        await ws.close(1000, "planned reconnect before the session cap")
