"""A real MCP server for the tests: the official `mcp` package's server over streamable HTTP on 127.0.0.1.

It offers `lookup(topic)` (answers "All about <topic>.") and `broken()` (always fails), remembers the
headers of every request (so a test can see the session's `headers` arrive), and refuses requests without
the expected `X-Api-Key` when one is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import pytest

pytest.importorskip("mcp")
import uvicorn  # a dependency of mcp
from mcp.server.mcpserver import MCPServer

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass
class RunningMcpServer:
    url: str
    headers_seen: list[dict[str, str]] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def _build(running: RunningMcpServer, api_key: str | None) -> Any:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    server = MCPServer("emulator-test-tools")  # it installs a log handler on the root logger: undone below
    root.handlers[:], root.level = handlers, level

    @server.tool()
    def lookup(topic: str) -> str:
        """Look a topic up in the test encyclopaedia."""
        running.calls.append(("lookup", {"topic": topic}))
        return f"All about {topic}."

    @server.tool()
    def broken() -> str:
        """Always fails."""
        running.calls.append(("broken", {}))
        raise RuntimeError("the encyclopaedia is closed")

    app = server.streamable_http_app(stateless_http=True, json_response=True)

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
            running.headers_seen.append(headers)
            if api_key is not None and headers.get("x-api-key") != api_key:
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"text/plain")]})
                await send({"type": "http.response.body", "body": b"bad key"})
                return
        await app(scope, receive, send)

    return guarded


@contextlib.asynccontextmanager
async def mcp_server(*, api_key: str | None = None) -> AsyncIterator[RunningMcpServer]:
    running = RunningMcpServer(url="")
    config = uvicorn.Config(_build(running, api_key), host="127.0.0.1", port=0, log_level="warning",
                            log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started, "the test MCP server did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        running.url = f"http://127.0.0.1:{port}/mcp"
        yield running
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
