"""`VoiceLiveSession`: owns one conversation with the service, over as many WebSocket connections as it takes.

A plain class (no Textual): it runs as a task on the App's loop, sends through an `Outbox`, plays audio
into an `AudioOutput`, and reports everything through `emit(notice)`. The UI calls `update_session`,
`interrupt`, `send_text`, `set_muted`; none of them awaits the socket.

Connections die (networks drop, the service closes every session at 60 minutes). The session reconnects
with backoff, re-sends its configuration and replays the conversation as text items, so the model keeps
its context; audio keeps flowing through the same outbox and playback buffer. A close the user asked for
never reconnects. Shortly before the service's cap it reconnects on purpose, between turns if it can.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from app.conversation import Conversation
from app.protocol import client_events as ce
from app.protocol.session import SessionConfig
from app.voicelive import notices as nt
from app.voicelive.auth import AuthError, CredentialProvider
from app.voicelive.connection import ConnectError, open_connection
from app.voicelive.handlers import AudioOutput, SessionState
from app.voicelive.reconnect import ReconnectPolicy

log = logging.getLogger(__name__)
FATAL_STATUSES = {400, 401, 403, 404}
__all__ = ["AudioOutput", "VoiceLiveSession"]


class VoiceLiveSession(SessionState):
    def __init__(
        self,
        url: str,
        credentials: CredentialProvider,
        config: SessionConfig,
        emit: Callable[[nt.Notice], None],
        *,
        api_version: str | None = None,
        audio_out: AudioOutput | None = None,
        conversation: Conversation | None = None,
        policy: ReconnectPolicy | None = None,
        planned_margin_s: float = 60.0,
    ) -> None:
        super().__init__(config, emit, audio_out=audio_out, conversation=conversation)
        self.url = url
        self.credentials = credentials
        self.api_version = api_version
        self.policy = policy or ReconnectPolicy()
        self.planned_margin_s = planned_margin_s
        self.muted = False
        self.connections = 0
        self._ws: ClientConnection | None = None
        self._closing = False
        self._planned = False
        self._event_seq = 0
        self._wake = asyncio.Event()

    # ------------------------------------------------------------------ commands (called from the UI)
    def _next_id(self, prefix: str) -> str:
        self._event_seq += 1
        return f"{prefix}_{self._event_seq}"

    def update_session(self, config: SessionConfig) -> str:
        """Ask for a new configuration; it becomes `self.config` only when the service confirms it."""
        event_id = self._next_id("update")
        self._pending_updates[event_id] = config
        payload = config.to_payload(self.api_version)
        self.outbox.put_control(ce.SessionUpdate(event_id=event_id, session=payload).to_json())
        return event_id

    def send_text(self, text: str) -> None:
        """A typed user turn, answered like a spoken one."""
        text = text.strip()
        if not text:
            return
        self.interrupt()
        self._turn_ended_at = time.monotonic()
        self.outbox.put_control(ce.ItemCreate(item=ce.user_text_item(text)).to_json())
        self.outbox.put_control(ce.ResponseCreate().to_json())

    def interrupt(self) -> None:
        """Stop the assistant now: flush playback, cancel the response, truncate what was not heard."""
        self._barge_in(send_cancel=True)

    def set_muted(self, muted: bool) -> None:
        self.muted = muted
        self.outbox.accepting_audio = not muted
        if muted:
            self.outbox.clear_audio()

    def submit_audio(self, block: bytes) -> None:
        """A captured 20 ms block (called on the loop, via call_soon_threadsafe from the audio thread)."""
        self.outbox.put_audio(block)

    async def close(self) -> None:
        """Close with 1000 on request; never reconnects afterwards."""
        self._closing = True
        self._wake.set()
        ws = self._ws
        if ws is not None:
            await ws.close(1000, "client closing")

    # ------------------------------------------------------------------ the connection loop
    async def run(self) -> None:
        """Connect, serve, reconnect until closed or out of attempts. Never raises; reports through notices."""
        attempt = 0
        while not self._closing:
            state = "connecting" if attempt == 0 else "reconnecting"
            self.emit(nt.ConnectionChanged(state, attempt=attempt))
            self.policy.note_attempt()
            try:
                creds = await self.credentials.get()
                self._ws, request_id = await open_connection(self.url, creds)
            except AuthError as exc:
                self.emit(nt.ConnectionChanged("failed", str(exc)))
                return
            except ConnectError as exc:
                log.warning("connection failed: %s", exc)
                if self.connections == 0 or exc.status in FATAL_STATUSES:
                    self.emit(nt.ConnectionChanged("failed", str(exc)))
                    return
                attempt += 1
                if not await self._wait_before(attempt, str(exc), exc.retry_after):
                    return
                continue
            attempt = 0
            reason = await self._serve(self._ws, request_id)
            if self._closing:
                break
            if self._planned:
                self._planned = False
                log.info("planned reconnect before the session cap")
                continue
            attempt = 1
            if not await self._wait_before(attempt, reason, None):
                return
        self.emit(nt.ConnectionChanged("closed"))

    async def _wait_before(self, attempt: int, reason: str, retry_after: float | None) -> bool:
        """Back off before another attempt; False when the session should give up (or was closed)."""
        if self.policy.exhausted(attempt):
            self.emit(nt.ConnectionChanged(
                "failed", f"Gave up reconnecting after {self.policy.max_attempts} attempts ({reason}); "
                "press r to try again."))
            return False
        delay = self.policy.delay(attempt, retry_after)
        log.info("reconnecting in %.1f s (attempt %d): %s", delay, attempt, reason)
        self.emit(nt.ConnectionChanged("reconnecting", reason, attempt))
        self._wake.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)
        return not self._closing

    async def _serve(self, ws: ClientConnection, request_id: str) -> str:
        """One connection's life: configure, replay context, send and receive until it closes."""
        self.connections += 1
        self.emit(nt.ConnectionChanged("connected", f"request id {request_id}"))
        self.outbox.clear_audio()  # speech captured while disconnected is stale now
        self.update_session(self.config)
        self._replay_context()
        tasks = [asyncio.create_task(self._send_loop(ws), name="voicelive-send"),
                 asyncio.create_task(self._planned_reconnect(ws), name="voicelive-cap")]
        reason = "the connection closed"
        try:
            async for frame in ws:
                self.frames_received += 1
                self._handle_frame(frame)
        except ConnectionClosed:
            pass
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if ws.close_code not in (None, 1000) or not self._closing:
            code = ws.close_code if ws.close_code is not None else 1006
            reason = f"connection lost (code {code}{': ' + ws.close_reason if ws.close_reason else ''})"
        self._connection_lost()
        self.outbox.take()  # what was queued for the dead socket is re-sent by the next connect
        return reason

    def _replay_context(self) -> None:
        """Re-create the finished turns as text items so the model keeps the conversation's context."""
        items = self.conversation.replay_items()
        self._replay_pending = len(items)
        for item in items:
            self.outbox.put_control(ce.ItemCreate(item=item).to_json())
        if items:
            log.info("replayed %d conversation items into the new connection", len(items))

    async def _planned_reconnect(self, ws: ClientConnection) -> None:
        """Reconnect shortly before the service's session cap, waiting for a pause in the conversation."""
        await asyncio.sleep(0.5)  # session.created tells us when this session expires
        if self.expires_at is None:
            return
        remaining = self.expires_at - time.time()
        margin = min(self.planned_margin_s, max(1.0, remaining * 0.25))
        await asyncio.sleep(max(0.0, remaining - margin))
        deadline = time.monotonic() + margin * 0.8
        while self.busy and time.monotonic() < deadline:  # noqa: ASYNC110 - playback state has no event
            await asyncio.sleep(0.1)
        self._planned = True
        await ws.close(1000, "planned reconnect before the session cap")

    async def _send_loop(self, ws: ClientConnection) -> None:
        try:
            while True:
                await self.outbox.wait()
                control, audio = self.outbox.take()
                for frame in control:
                    await ws.send(frame)
                for block in audio:
                    await ws.send(ce.audio_append_json(block))
        except ConnectionClosed:
            return

    # ------------------------------------------------------------------ introspection
    def stats(self) -> dict[str, Any]:
        return {
            "frames_received": self.frames_received,
            "dropped_audio_blocks": self.outbox.dropped_audio_blocks,
            "connections": self.connections,
            "ignored": self._warn.counts,
        }
