"""Tool outputs of an emulated response: a function call, an MCP approval request, an MCP call.

Each is an `Output` for `Responses` (an `item`, `stream()`, `finish(status)`), sending the events the
service sends for it: the item added and created, its arguments streamed, and for MCP calls the call's
progress, made for real against the MCP server.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from app.emulator.conversation import new_id
from app.emulator.mcp_client import McpError, call_tool, request_headers

if TYPE_CHECKING:
    from app.emulator.session import EmulatorSession

ARGUMENT_CHUNK = 12  # characters of arguments per delta event


def _chunks(text: str) -> list[str]:
    return [text[i : i + ARGUMENT_CHUNK] for i in range(0, len(text), ARGUMENT_CHUNK)] or [""]


class _ItemOutput:
    """The common part: announce the item, and close it with `response.output_item.done`."""

    def __init__(self, host: EmulatorSession, response_id: str, output_index: int, item: dict[str, Any]) -> None:
        self.host = host
        self.response_id = response_id
        self.output_index = output_index
        self.item = {"id": item.pop("id", None) or new_id("item"), "object": "realtime.item", **item}
        self.added = False  # the client has seen response.output_item.added for it

    @property
    def words(self) -> int:
        return 0

    async def _announce(self) -> None:
        host = self.host
        previous = host.conversation.last_id
        self.added = True
        await host.send({"type": "response.output_item.added", "response_id": self.response_id,
                         "output_index": self.output_index, "item": dict(self.item)})
        host.conversation.append(self.item)
        await host.send({"type": "conversation.item.created", "previous_item_id": previous, "item": dict(self.item)})

    async def finish(self, status: str) -> None:
        if "status" in self.item:
            self.item["status"] = "completed" if status == "completed" else "incomplete"
        await self.host.send({"type": "response.output_item.done", "response_id": self.response_id,
                              "output_index": self.output_index, "item": self.item})


class FunctionCallOutput(_ItemOutput):
    """The model calls a client function: the client runs it and answers with `function_call_output`."""

    def __init__(self, host: EmulatorSession, response_id: str, output_index: int, *, name: str,
                 arguments: str) -> None:
        self.call_id = new_id("call")
        self.arguments = arguments
        super().__init__(host, response_id, output_index, {"type": "function_call", "name": name,
                                                           "call_id": self.call_id, "arguments": "",
                                                           "status": "in_progress"})

    async def stream(self) -> None:
        await self._announce()
        base = {"response_id": self.response_id, "item_id": self.item["id"], "output_index": self.output_index,
                "call_id": self.call_id}
        for delta in _chunks(self.arguments):
            await self.host.send({"type": "response.function_call_arguments.delta", **base, "delta": delta})
            await asyncio.sleep(0)
        self.item["arguments"] = self.arguments
        await self.host.send({"type": "response.function_call_arguments.done", **base,
                              "name": self.item["name"], "arguments": self.arguments})
        self.host.toolbox.calls[self.call_id] = self.item["name"]


class McpApprovalOutput(_ItemOutput):
    """The service asks the client before calling an MCP tool (`require_approval`)."""

    def __init__(self, host: EmulatorSession, response_id: str, output_index: int, *, server_label: str,
                 name: str, arguments: str) -> None:
        super().__init__(host, response_id, output_index, {
            "id": new_id("mcpr"), "type": "mcp_approval_request", "server_label": server_label, "name": name,
            "arguments": arguments})

    async def stream(self) -> None:
        await self._announce()
        self.host.toolbox.approvals[self.item["id"]] = (self.item["server_label"], self.item["name"],
                                                        self.item["arguments"])


class McpCallOutput(_ItemOutput):
    """The service calls an MCP tool itself and reports its progress and result."""

    def __init__(self, host: EmulatorSession, response_id: str, output_index: int, *, server: dict[str, Any],
                 name: str, arguments: str, approval_request_id: str | None = None) -> None:
        self.server = server
        self.arguments = arguments
        item: dict[str, Any] = {"id": new_id("mcp"), "type": "mcp_call", "server_label": server["server_label"],
                                "name": name, "arguments": ""}
        if approval_request_id:
            item["approval_request_id"] = approval_request_id
        super().__init__(host, response_id, output_index, item)

    async def stream(self) -> None:
        host, item = self.host, self.item
        await self._announce()
        base = {"response_id": self.response_id, "item_id": item["id"], "output_index": self.output_index}
        for delta in _chunks(self.arguments):
            await host.send({"type": "response.mcp_call_arguments.delta", **base, "delta": delta})
        item["arguments"] = self.arguments
        await host.send({"type": "response.mcp_call_arguments.done", **base, "arguments": self.arguments})
        progress = {"item_id": item["id"], "output_index": self.output_index}
        await host.send({"type": "response.mcp_call.in_progress", **progress})
        try:
            arguments = json.loads(self.arguments or "{}")
            item["output"] = await call_tool(
                self.server["server_url"], item["name"], arguments,
                headers=request_headers(self.server.get("headers"), self.server.get("authorization")))
        except McpError as exc:
            item["error"] = str(exc)
            await host.send({"type": "response.mcp_call.failed", **progress})
            return
        await host.send({"type": "response.mcp_call.completed", **progress})
