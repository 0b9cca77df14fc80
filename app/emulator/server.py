"""The emulator's WebSocket server: the service's handshake rules, then one `EmulatorSession` per socket."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import secrets
import sys
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from app.emulator.options import EmulatorOptions
from app.emulator.session import EmulatorSession
from app.protocol.endpoint import REALTIME_PATH

log = logging.getLogger(__name__)

__all__ = ["EmulatorOptions", "EmulatorServer"]


def _same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison that cannot raise: any character (even a non-ASCII one) just fails to match."""
    return secrets.compare_digest(given.encode("utf-8", "surrogateescape"),
                                  expected.encode("utf-8", "surrogateescape"))


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, where there is one: freed heap goes back to the OS instead of staying resident."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_TRIM = _malloc_trim()


def _return_freed_memory() -> None:
    if _TRIM is not None:
        _TRIM(0)


class EmulatorServer:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None,
                 options: EmulatorOptions | None = None) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key if api_key is not None else "local-" + secrets.token_urlsafe(16)
        self.options = options or EmulatorOptions()
        # Open sessions, plus the last `options.keep_closed_sessions` closed ones, oldest first.
        self.sessions: list[EmulatorSession] = []
        self.handshakes: deque[dict[str, str]] = deque(maxlen=200)  # recent headers (secrets masked), for tests
        self.connections: set[ServerConnection] = set()
        self._admitted: set[ServerConnection] = set()  # handshakes accepted and not yet finished
        self._server: Server | None = None

    @property
    def endpoint(self) -> str:
        """The http:// endpoint a client is given (it becomes ws:// like https becomes wss)."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> EmulatorServer:
        self._server = await serve(self._serve, self.host, self.port, process_request=self._check_request,
                                   max_size=16 * 1024 * 1024, ping_interval=20)
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        log.info("emulator listening on %s", self.endpoint)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> EmulatorServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    # ------------------------------------------------------------------ handshake
    def _authorised(self, headers: Headers, query: dict[str, list[str]]) -> bool:
        """An API key (header or query) must be this server's; a bearer token only when the options allow it."""
        key = headers.get("api-key") or next(iter(query.get("api-key", [])), None)
        if key is not None:
            return _same_secret(key, self.api_key)
        auth = headers.get("Authorization") or (query.get("Authorization") or [""])[0]
        if not auth.lower().startswith("bearer "):
            return False
        token = auth[7:].strip()
        if not token:
            return False
        if self.options.bearer_token is not None and _same_secret(token, self.options.bearer_token):
            return True
        return self.options.accept_any_token

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        query = parse_qs(parts.query)
        self.handshakes.append({k: ("***" if k.lower() in ("api-key", "authorization") else v)
                                for k, v in request.headers.raw_items()})
        if not parts.path.endswith(REALTIME_PATH):
            return connection.respond(HTTPStatus.NOT_FOUND, f"Resource not found: {parts.path}\n")
        agent = query.get("agent-name")
        for required in ("api-version", "agent-project-name" if agent else "model"):
            if not query.get(required):
                return connection.respond(HTTPStatus.BAD_REQUEST, f"Missing required query parameter '{required}'.\n")
        if not self._authorised(request.headers, query):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Access denied: invalid API key or token.\n")
        if agent and (request.headers.get("api-key") or query.get("api-key")):
            return connection.respond(HTTPStatus.UNAUTHORIZED,
                                      "Agent mode requires Microsoft Entra ID authentication, not an API key.\n")
        self._admitted = {c for c in self._admitted if c.state is not State.CLOSED}
        limit = self.options.max_connections
        if len(self._admitted) >= limit:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE,
                                      f"The emulator is serving its limit of {limit} concurrent connections; "
                                      "try again later.\n")
        self._admitted.add(connection)
        return None

    async def send_raw(self, frames: list[str]) -> None:
        """Send arbitrary text frames to every open connection (fuzzing a client)."""
        for ws in list(self.connections):
            for frame in frames:
                await ws.send(frame)

    def drop_connections(self) -> int:
        """Abort every open connection at once, as a network failure would (the client sees 1006)."""
        dropped = 0
        for ws in list(self.connections):
            ws.transport.abort()
            dropped += 1
        return dropped

    # ------------------------------------------------------------------ one connection
    async def _serve(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        options = self.options
        sent = 0

        async def send(text: str) -> None:
            nonlocal sent
            if options.latency_ms:
                await asyncio.sleep(options.latency_ms / 1000)
            await ws.send(text)
            sent += 1
            if options.unknown_event_every and sent % options.unknown_event_every == 0:
                await ws.send(json.dumps({"type": "emulator.unknown_feature", "event_id": f"u{sent}", "x": [1]}))
            if options.error_after_events and sent == options.error_after_events:
                await ws.send(json.dumps({"type": "error", "event_id": "injected", "error": {
                    "type": "server_error", "code": "injected_fault", "message": "an injected server error",
                    "param": None, "event_id": None}}))
            if options.drop_after_events and sent >= options.drop_after_events:
                ws.transport.abort()

        session = EmulatorSession(send, model=(query.get("model") or ["gpt-4o"])[0], options=options,
                                  agent=agent_of(query))
        self.sessions.append(session)

        async def expire() -> None:
            if options.drop_after_s is not None and options.drop_after_s < options.session_cap_s:
                await asyncio.sleep(options.drop_after_s)
                ws.transport.abort()
                return
            await asyncio.sleep(options.session_cap_s)
            await session.error("the session reached its maximum duration", code="session_expired",
                                kind="server_error")
            await ws.close(1000, "session expired")

        watchdog = asyncio.create_task(expire())
        self.connections.add(ws)
        try:
            await session.start()
            async for frame in ws:
                await session.handle(frame)
        except ConnectionClosed:
            pass
        finally:
            session.close_code = ws.close_code
            session.closed = True
            self.connections.discard(ws)
            self._admitted.discard(ws)
            watchdog.cancel()
            with contextlib.suppress(Exception):
                await session.close()
            self._forget(session)

    def _forget(self, closed: EmulatorSession) -> None:
        """Drop a closed session, unless tests asked to keep the last few closed ones."""
        keep = self.options.keep_closed_sessions
        finished = [s for s in self.sessions if s.closed]
        for old in finished[: max(0, len(finished) - keep)]:
            self.sessions.remove(old)
            old.release()
        _return_freed_memory()


def agent_of(query: dict[str, list[str]]) -> dict[str, str] | None:
    """The Foundry agent the handshake names (`agent-name`, `agent-project-name`, …), if any."""
    keys = {"agent-name": "name", "agent-project-name": "project", "agent-version": "version",
            "conversation-id": "conversation_id"}
    agent = {field: query[key][0] for key, field in keys.items() if query.get(key)}
    return agent if "name" in agent else None
