"""Conformance for tools: Microsoft's `azure-ai-voicelive` SDK, as a client, sees every function-call and MCP
event the emulator sends as its own typed class, sends its own tool items, and connects to an agent."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

voicelive = pytest.importorskip("azure.ai.voicelive")
pytest.importorskip("mcp")
from azure.ai.voicelive import models as m  # noqa: E402
from azure.ai.voicelive.aio import connect  # noqa: E402
from azure.core.credentials import AccessToken, AzureKeyCredential  # noqa: E402

from app.emulator.server import EmulatorServer  # noqa: E402
from tests.mcp_server import mcp_server  # noqa: E402
from tests.sdk_client import until as _until  # noqa: E402

EXPECTED_CLASSES = {
    "response.function_call_arguments.delta": m.ServerEventResponseFunctionCallArgumentsDelta,
    "response.function_call_arguments.done": m.ServerEventResponseFunctionCallArgumentsDone,
    "mcp_list_tools.in_progress": m.ServerEventMcpListToolsInProgress,
    "mcp_list_tools.completed": m.ServerEventMcpListToolsCompleted,
    "response.mcp_call_arguments.delta": m.ServerEventResponseMcpCallArgumentsDelta,
    "response.mcp_call_arguments.done": m.ServerEventResponseMcpCallArgumentsDone,
    "response.mcp_call.in_progress": m.ServerEventResponseMcpCallInProgress,
    "response.mcp_call.completed": m.ServerEventResponseMcpCallCompleted,
}


async def _ask(conn: Any, text: str) -> None:
    await conn.conversation.item.create(item=m.UserMessageItem(content=[m.InputTextContentPart(text=text)]))
    await conn.response.create()


async def test_the_sdk_types_every_tool_event_and_sends_its_own_tool_items(emulator: EmulatorServer) -> None:
    seen: list[Any] = []
    async with mcp_server() as server, connect(endpoint=emulator.endpoint, model="gpt-4o",
                                               credential=AzureKeyCredential(emulator.api_key)) as conn:
        await _until(conn, "session.created", seen)
        tools = [
            m.FunctionTool(name="current_time", description="The time.", parameters={
                "type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]}),
            m.MCPServer(server_label="auto", server_url=server.url, require_approval="never", allowed_tools=["lookup"]),
            m.MCPServer(server_label="asks", server_url=server.url, allowed_tools=["broken"]),
        ]
        await conn.session.update(session=m.RequestSession(tools=tools, tool_choice="auto"))
        await _until(conn, "session.updated", seen)
        for _ in range(2):
            await _until(conn, "mcp_list_tools.completed", seen)
        listings = [e.item for e in seen if e.type == "conversation.item.created"
                    and isinstance(e.item, m.ResponseMCPListToolItem)]
        assert sorted(item.server_label for item in listings) == ["asks", "auto"]

        # a function call, answered with the SDK's own output item
        await _ask(conn, "current time timezone=UTC")
        done = await _until(conn, "response.function_call_arguments.done", seen)
        assert json.loads(done.arguments) == {"timezone": "UTC"}
        await _until(conn, "response.done", seen)
        await conn.conversation.item.create(item=m.FunctionCallOutputItem(call_id=done.call_id, output='"noon"'))
        await conn.response.create()
        assert "noon" in (await _until(conn, "response.audio_transcript.done", seen)).transcript
        await _until(conn, "response.done", seen)

        # an MCP call that needs no approval
        await _ask(conn, "lookup topic=rivers")
        finished = await _until(conn, "response.done", seen)
        call = finished.response.output[0]
        assert isinstance(call, m.ResponseMCPCallItem) and call.output == "All about rivers."

        # an MCP call that asks first, approved with the SDK's own response item
        await _ask(conn, "broken please")
        asked = await _until(conn, "response.done", seen)
        request = asked.response.output[0]
        assert isinstance(request, m.ResponseMCPApprovalRequestItem) and request.server_label == "asks"
        assert request.id is not None
        await conn.conversation.item.create(item=m.MCPApprovalResponseRequestItem(approval_request_id=request.id,
                                                                                   approve=True))
        await _until(conn, "response.mcp_call.failed", seen)
        await _until(conn, "response.done", seen)

    by_type: dict[str, Any] = {}
    for event in seen:
        by_type.setdefault(event.type, event)
    for kind, cls in EXPECTED_CLASSES.items():
        assert isinstance(by_type.get(kind), cls), kind
    assert isinstance(by_type["response.mcp_call.failed"], m.ServerEventResponseMcpCallFailed)
    created_items = {type(e.item) for e in seen if e.type == "conversation.item.created"}
    for item_cls in (m.ResponseFunctionCallItem, m.ResponseFunctionCallOutputItem, m.ResponseMCPListToolItem,
                     m.ResponseMCPCallItem, m.ResponseMCPApprovalRequestItem, m.ResponseMCPApprovalResponseItem):
        assert item_cls in created_items, item_cls.__name__


class FakeEntraCredential:
    """Stands in for azure.identity's credential object (the HTTP to Entra ID cannot run here)."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    async def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken("entra-token-for-tests", int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> FakeEntraCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


async def test_the_sdk_connects_to_an_agent_and_reads_it_from_session_created(emulator: EmulatorServer) -> None:
    emulator.options.accept_any_token = True  # agents need Entra ID: the fake credential's token stands in
    credential = FakeEntraCredential()
    seen: list[Any] = []
    async with connect(endpoint=emulator.endpoint, credential=credential, agent_name="concierge",
                       project_name="travel", agent_version="5") as conn:
        created = await _until(conn, "session.created", seen)
        assert created.session.agent.name == "concierge" and created.session.agent.agent_id == "concierge:5"
    assert credential.scopes == ["https://ai.azure.com/.default"]
