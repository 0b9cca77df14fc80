"""The emulator's tools: what a session declared, which MCP tools each server listed, the calls waiting for
their output and the MCP calls waiting for approval.

Hooks, called by the other pieces:
* `configured()` after every `session.updated`: lists the tools of each new or changed MCP server
  (`mcp_list_tools.in_progress`, the `mcp_list_tools` item, `.completed` or `.failed`);
* `outputs_for()` from `Responses.decide`: the tool outputs of the next response, if it calls tools;
* `check_item()` / `item_added()` from `conversation.item.create`: a function call's output or an MCP
  approval response (an approval starts the MCP call in a new response, as the service does);
* `reply_for()` from `MessageOutput`: after tool results, the reply quotes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from app.emulator.conversation import new_id
from app.emulator.mcp_client import McpError, list_tools, request_headers
from app.emulator.tool_choice import Candidate, arguments_for, choose, quote, user_words
from app.emulator.tool_outputs import FunctionCallOutput, McpApprovalOutput, McpCallOutput
from app.emulator.voice import speak, tone
from app.protocol.tools import McpToolDef

if TYPE_CHECKING:
    from app.emulator.responses import Output
    from app.emulator.session import EmulatorSession

log = logging.getLogger(__name__)
TOOL_RESULT_TYPES = ("function_call_output", "mcp_call", "mcp_approval_response", "mcp_approval_request",
                     "function_call")


class Toolbox:
    def __init__(self, host: EmulatorSession) -> None:
        self.host = host
        self.listed: dict[str, list[dict[str, Any]]] = {}  # server label -> tools as listed (allowed only)
        self.calls: dict[str, str] = {}  # call_id -> function name, for calls made in this session
        self.approvals: dict[str, tuple[str, str, str]] = {}  # approval id -> (server label, tool, arguments)
        self._servers: dict[str, dict[str, Any]] = {}  # label -> the definition the listing used
        self._listing: dict[str, asyncio.Task[None]] = {}
        self._approved: list[tuple[str, str, str, str]] = []  # (approval id, label, tool, arguments)

    # ------------------------------------------------------------------ session
    def _declared(self) -> list[dict[str, Any]]:
        tools = self.host.session.get("tools") or []
        return [t for t in tools if isinstance(t, dict)]

    def configured(self) -> None:
        """The session changed: list the tools of new or changed MCP servers, forget removed ones."""
        servers = {t["server_label"]: t for t in self._declared() if t.get("type") == "mcp"}
        for label in list(self._servers):
            if servers.get(label) != self._servers[label]:
                self._forget(label)
        for label, server in servers.items():
            if label not in self._servers:
                self._servers[label] = server
                self._listing[label] = asyncio.create_task(self._list(server), name=f"emulator-mcp-list-{label}")

    def _forget(self, label: str) -> None:
        self._servers.pop(label, None)
        self.listed.pop(label, None)
        task = self._listing.pop(label, None)
        if task is not None:
            task.cancel()

    async def _list(self, server: dict[str, Any]) -> None:
        host, label = self.host, server["server_label"]
        item_id = new_id("mcpl")
        await host.send({"type": "mcp_list_tools.in_progress", "item_id": item_id})
        try:
            tools = await list_tools(server["server_url"],
                                     headers=request_headers(server.get("headers"), server.get("authorization")))
        except McpError as exc:
            log.info("MCP server %s: %s", label, exc)
            await host.send({"type": "mcp_list_tools.failed", "item_id": item_id})
            return
        allowed = server.get("allowed_tools")
        kept = [t.as_item_tool() for t in tools if allowed is None or t.name in allowed]
        self.listed[label] = kept
        item = {"id": item_id, "object": "realtime.item", "type": "mcp_list_tools", "server_label": label,
                "tools": kept}
        host.conversation.items[item_id] = item  # retrievable, but not a turn: responses answer the user
        await host.send({"type": "conversation.item.created", "previous_item_id": host.conversation.last_id,
                         "item": item})
        await host.send({"type": "mcp_list_tools.completed", "item_id": item_id})

    async def close(self) -> None:
        tasks = list(self._listing.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # ------------------------------------------------------------------ responses
    def _candidates(self) -> list[Candidate]:
        found = [Candidate(t["name"], t.get("parameters") or {}) for t in self._declared()
                 if t.get("type") == "function"]
        for label, tools in self.listed.items():
            found += [Candidate(t["name"], t.get("input_schema") or {}, server_label=label) for t in tools]
        return found

    def outputs_for(self, response_id: str) -> list[Output] | None:
        """The tool outputs of this response, or None when it answers with a message."""
        host = self.host
        if self._approved:
            approval_id, label, name, arguments = self._approved.pop(0)
            server = self._servers.get(label)
            if server is not None:
                return [McpCallOutput(host, response_id, 0, server=server, name=name, arguments=arguments,
                                      approval_request_id=approval_id)]
        words = user_words(host.conversation.items.get(host.conversation.last_id or ""))
        if words is None:
            return None
        session = host.session
        picked = choose(words, self._candidates(), session.get("tool_choice", "auto"),
                        parallel=session.get("parallel_tool_calls") is not False)
        outputs: list[Output] = []
        for index, tool in enumerate(picked):
            arguments = arguments_for(tool.schema, words)
            if tool.server_label is None:
                outputs.append(FunctionCallOutput(host, response_id, index, name=tool.name, arguments=arguments))
                continue
            server = self._servers[tool.server_label]
            if McpToolDef.model_validate(server).needs_approval(tool.name):
                outputs.append(McpApprovalOutput(host, response_id, index, server_label=tool.server_label,
                                                 name=tool.name, arguments=arguments))
            else:
                outputs.append(McpCallOutput(host, response_id, index, server=server, name=tool.name,
                                             arguments=arguments))
        return outputs or None

    async def reply_for(self, source: dict[str, Any] | None) -> tuple[str, npt.NDArray[np.int16]] | None:
        """After tool items, the reply quotes every result since the user last spoke; None otherwise."""
        if source is None or source.get("type") not in TOOL_RESULT_TYPES:
            return None
        conversation = self.host.conversation
        quotes: list[str] = []
        for item_id in reversed(conversation.order):
            item = conversation.items.get(item_id)
            if item is None or item.get("type") not in TOOL_RESULT_TYPES:
                break
            said = quote(item, self.calls)
            if said and (item.get("type") in ("function_call_output", "mcp_call") or not quotes):
                quotes.append(said)
        text = " ".join(reversed(quotes)) or "The tools returned nothing."
        audio = await speak(text)
        return text, (audio if audio is not None else tone())

    # ------------------------------------------------------------------ client items
    def check_item(self, item: dict[str, Any]) -> tuple[str, str] | None:
        """(message, param) when a tool item from the client cannot be accepted, else None."""
        kind = item.get("type")
        if kind == "function_call_output":
            call_id = item.get("call_id")
            if not isinstance(call_id, str) or not call_id:
                return "a function_call_output needs a call_id", "item.call_id"
            if call_id not in self.calls:
                return f"no function call has call_id '{call_id}'", "item.call_id"
            if not isinstance(item.get("output"), str):
                return "output must be a string (JSON-encode structured results)", "item.output"
        elif kind == "mcp_approval_response":
            approval_id = item.get("approval_request_id")
            if approval_id not in self.approvals:
                return f"no pending MCP approval request '{approval_id}'", "item.approval_request_id"
            if not isinstance(item.get("approve"), bool):
                return "approve must be true or false", "item.approve"
        return None

    async def item_added(self, item: dict[str, Any]) -> None:
        """An approval answer: approved calls run in a new response (the service starts it itself)."""
        if item.get("type") != "mcp_approval_response":
            return
        approval_id = str(item["approval_request_id"])
        label, name, arguments = self.approvals.pop(approval_id)
        if item.get("approve"):
            self._approved.append((approval_id, label, name, arguments))
            responses = self.host.responses
            if responses.active:
                await responses.cancel("client_cancelled")
            responses.start()
