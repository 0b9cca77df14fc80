"""The emulator's side of MCP: list a server's tools and call one, over real streamable HTTP.

The service connects to the MCP servers a session declares; so does the emulator, with the official `mcp`
package (the optional extra `voicelive-tui[mcp]`). Each listing and each call opens its own connection:
simple, and a server that restarts between calls costs nothing. Every failure is an `McpError` with one
sentence, which becomes `mcp_list_tools.failed` or `response.mcp_call.failed`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

LIST_TIMEOUT_S = 15.0
CALL_TIMEOUT_S = 30.0


class McpError(RuntimeError):
    """Listing or calling failed; the message is one sentence (it reaches the client)."""


@dataclass(frozen=True)
class ListedTool:
    name: str
    description: str | None
    input_schema: dict[str, Any]
    annotations: dict[str, Any] | None = None

    def as_item_tool(self) -> dict[str, Any]:
        """The tool as an `mcp_list_tools` item carries it."""
        data: dict[str, Any] = {"name": self.name, "input_schema": self.input_schema}
        if self.description:
            data["description"] = self.description
        if self.annotations:
            data["annotations"] = self.annotations
        return data


def request_headers(headers: dict[str, str] | None, authorization: str | None) -> dict[str, str]:
    """The headers sent to the MCP server: the declared ones, and `authorization` as a bearer token."""
    sent = dict(headers or {})
    if authorization:
        sent["Authorization"] = authorization if authorization.lower().startswith("bearer ") \
            else f"Bearer {authorization}"
    return sent


def _first_line(exc: BaseException) -> str:
    inner = getattr(exc, "exceptions", None)  # an exception group from the transport's task group
    if isinstance(inner, tuple) and inner:
        return _first_line(inner[0])
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


async def _with_client(url: str, headers: dict[str, str], timeout: float, work: Any) -> Any:
    try:
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client
    except ImportError:
        raise McpError("The emulator needs the mcp package for MCP servers: pip install 'voicelive-tui[mcp]'.") \
            from None

    async def run() -> Any:
        http_timeout = httpx2.Timeout(timeout, read=timeout)
        async with httpx2.AsyncClient(headers=headers, timeout=http_timeout) as http, \
                Client(streamable_http_client(url, http_client=http)) as client:
            return await work(client)

    try:
        return await asyncio.wait_for(run(), timeout)
    except asyncio.TimeoutError:
        raise McpError(f"The MCP server at {url} did not answer within {timeout:g} s.") from None
    except McpError:
        raise
    except Exception as exc:  # anything from the network or the server: one sentence for the client
        raise McpError(f"The MCP server at {url} could not be used ({_first_line(exc)}).") from None


async def list_tools(url: str, *, headers: dict[str, str], timeout: float = LIST_TIMEOUT_S) -> list[ListedTool]:
    async def work(client: Any) -> list[ListedTool]:
        result = await client.list_tools()
        return [ListedTool(t.name, t.description, dict(t.input_schema or {"type": "object"}),
                           t.annotations.model_dump(exclude_none=True) if t.annotations else None)
                for t in result.tools]

    listed: list[ListedTool] = await _with_client(url, headers, timeout, work)
    return listed


async def call_tool(url: str, name: str, arguments: dict[str, Any], *, headers: dict[str, str],
                    timeout: float = CALL_TIMEOUT_S) -> str:
    """The tool's text output; raises `McpError` when the call fails or the tool reports an error."""

    async def work(client: Any) -> tuple[bool, str]:
        result = await client.call_tool(name, arguments)
        texts = [block.text for block in result.content if getattr(block, "type", "") == "text"]
        return bool(result.is_error), "\n".join(texts)

    outcome: tuple[bool, str] = await _with_client(url, headers, timeout, work)
    failed, text = outcome
    if failed:
        raise McpError(f"The MCP tool {name} reported an error: {text[:300] or 'no details'}.")
    return text
