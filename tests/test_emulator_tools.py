"""The emulator plays the service's part for tools, over real websockets: function calls, MCP servers
(a real one on 127.0.0.1, with and without approval), validation with `param`, and Foundry agents."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from app.emulator.server import EmulatorServer
from app.emulator.tool_choice import Candidate, arguments_for, choose
from tests.raw_client import RawClient

CLOCK: dict[str, Any] = {"type": "function", "name": "current_time", "description": "The time in a zone.",
         "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}},
                        "required": ["timezone"]}}
NOTE: dict[str, Any] = {"type": "function", "name": "save_note", "parameters": {
    "type": "object", "properties": {"text": {"type": "string"}, "title": {"type": "string", "default": "note"}},
    "required": ["text"]}}


async def say(client: RawClient, text: str) -> None:
    await client.send({"type": "conversation.item.create",
                       "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}})
    await client.until("conversation.item.created")
    await client.send({"type": "response.create"})


def since(client: RawClient, kind: str) -> list[dict[str, Any]]:
    """The events from the last `kind` on."""
    starts = [i for i, e in enumerate(client.events) if e["type"] == kind]
    return client.events[starts[-1]:] if starts else []


# ------------------------------------------------------------------------------------- function calls
async def test_a_named_function_is_called_and_its_output_is_quoted(emulator: EmulatorServer) -> None:
    async with RawClient(emulator) as client:
        assert (await client.update(tools=[CLOCK, NOTE]))["type"] == "session.updated"
        await say(client, "What is the current time in Tokyo? timezone=Asia/Tokyo")
        await client.until("response.done")
        events = since(client, "response.created")
        kinds = [e["type"] for e in events]
        assert kinds[:3] == ["response.created", "response.output_item.added", "conversation.item.created"]
        assert "response.function_call_arguments.delta" in kinds
        done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
        assert done["name"] == "current_time" and json.loads(done["arguments"]) == {"timezone": "Asia/Tokyo"}
        deltas = "".join(e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta")
        assert deltas == done["arguments"]
        item = events[-1]["response"]["output"][0]
        assert item["type"] == "function_call" and item["call_id"] == done["call_id"]
        assert item["status"] == "completed" and events[-1]["response"]["status"] == "completed"
        assert "response.audio.delta" not in kinds  # a tool call is not spoken

        await client.send({"type": "conversation.item.create", "item": {
            "type": "function_call_output", "call_id": done["call_id"], "output": '{"time": "21:07"}'}})
        await client.until("conversation.item.created")
        await client.send({"type": "response.create"})
        transcript = await client.until("response.audio_transcript.done")
        assert transcript["transcript"].startswith('current_time returned: {"time": "21:07"}')


async def test_forced_none_required_and_parallel_choices(emulator: EmulatorServer) -> None:
    async with RawClient(emulator) as client:
        await client.update(tools=[CLOCK, NOTE], tool_choice={"type": "function", "name": "save_note"})
        await say(client, "hello there")
        done = await client.until("response.function_call_arguments.done")
        assert done["name"] == "save_note" and json.loads(done["arguments"]) == {"text": "example text"}
        await client.until("response.done")

        await client.update(tool_choice="none")
        await say(client, "what is the current time")
        assert (await client.until("response.done"))["response"]["output"][0]["type"] == "message"

        await client.update(tool_choice="auto")
        await say(client, "save note text='milk' and tell me the current_time timezone=UTC")
        output = (await client.until("response.done"))["response"]["output"]
        assert [o["name"] for o in output] == ["save_note", "current_time"]
        assert json.loads(output[0]["arguments"]) == {"text": "milk"}

        await client.update(parallel_tool_calls=False)
        await say(client, "save note text='milk' and tell me the current_time timezone=UTC")
        assert len((await client.until("response.done"))["response"]["output"]) == 1


@pytest.mark.parametrize(("session", "param"), [
    ({"tools": [{"type": "code_interpreter"}]}, "session.tools.0"),
    ({"tools": [{"type": "function", "name": "no spaces allowed"}]}, "session.tools.0.name"),
    ({"tools": [{"type": "function", "name": "f", "parameters": {"type": "array"}}]}, "session.tools.0.parameters"),
    ({"tools": [CLOCK, CLOCK]}, "session.tools"),
    ({"tools": [CLOCK], "tool_choice": {"type": "function", "name": "nope"}}, "session.tool_choice"),
    ({"tools": [{"type": "mcp", "server_label": "docs"}]}, "session.tools.0.server_url"),
    ({"interim_response": {"type": "static_interim_response", "texts": []}}, "session.interim_response.texts"),
])
async def test_malformed_tool_definitions_are_refused_with_param(emulator: EmulatorServer, session: dict[str, Any],
                                                                 param: str) -> None:
    async with RawClient(emulator) as client:
        error = await client.update(**session)
        assert error["type"] == "error" and error["error"]["param"] == param
        assert (await client.update(instructions="still here"))["type"] == "session.updated"


async def test_outputs_for_unknown_calls_are_refused(emulator: EmulatorServer) -> None:
    async with RawClient(emulator) as client:
        await client.send({"type": "conversation.item.create", "item": {
            "type": "function_call_output", "call_id": "call_nope", "output": "{}"}})
        assert (await client.until("error"))["error"]["param"] == "item.call_id"
        await client.update(tools=[CLOCK])
        await say(client, "current time please")
        done = await client.until("response.function_call_arguments.done")
        await client.send({"type": "conversation.item.create", "item": {
            "type": "function_call_output", "call_id": done["call_id"], "output": {"not": "a string"}}})
        assert (await client.until("error"))["error"]["param"] == "item.output"


def test_the_choice_and_arguments_logic() -> None:
    clock, note = Candidate("current_time", CLOCK["parameters"]), Candidate("save_note", NOTE["parameters"])
    assert choose("what's the Current Time?", [clock, note], "auto", parallel=True) == [clock]
    assert choose("current_timer", [clock], "auto", parallel=True) == []
    assert choose("nothing", [clock, note], "required", parallel=True) == [clock]
    schema = {"type": "object", "required": ["n", "flag", "kind"], "properties": {
        "n": {"type": "integer", "minimum": 2}, "flag": {"type": "boolean"}, "kind": {"enum": ["a", "b"]},
        "ratio": {"type": "number"}}}
    assert json.loads(arguments_for(schema, "ratio=0.5 n: 7")) == {"n": 7, "flag": True, "kind": "a", "ratio": 0.5}


# ------------------------------------------------------------------------------------------------ MCP
def _mcp(url: str, **extra: Any) -> dict[str, Any]:
    return {"type": "mcp", "server_label": "encyclopaedia", "server_url": url, **extra}


async def _listed(client: RawClient) -> dict[str, Any]:
    await client.until("mcp_list_tools.in_progress")
    end = await client.until("mcp_list_tools.completed", "mcp_list_tools.failed")
    return end


async def test_an_mcp_server_is_listed_and_called_without_approval(emulator: EmulatorServer) -> None:
    from tests.mcp_server import mcp_server

    async with mcp_server(api_key="mcp-key-1") as server, RawClient(emulator) as client:
        await client.update(tools=[_mcp(server.url, require_approval="never", allowed_tools=["lookup"],
                                        headers={"X-Api-Key": "mcp-key-1"})])
        end = await _listed(client)
        assert end["type"] == "mcp_list_tools.completed"
        listing = next(e["item"] for e in client.events if e["type"] == "conversation.item.created"
                       and e["item"]["type"] == "mcp_list_tools")
        assert listing["id"] == end["item_id"] and [t["name"] for t in listing["tools"]] == ["lookup"]
        assert listing["tools"][0]["input_schema"]["required"] == ["topic"]
        assert any(h.get("x-api-key") == "mcp-key-1" for h in server.headers_seen)

        await say(client, "please lookup topic=tea")
        done = await client.until("response.done")
        kinds = [e["type"] for e in since(client, "response.created")]
        for expected in ("response.mcp_call_arguments.delta", "response.mcp_call_arguments.done",
                         "response.mcp_call.in_progress", "response.mcp_call.completed"):
            assert expected in kinds, expected
        call = done["response"]["output"][0]
        assert call["type"] == "mcp_call" and call["output"] == "All about tea."
        assert server.calls == [("lookup", {"topic": "tea"})]  # the real server was called

        await client.send({"type": "response.create"})
        quoted = await client.until("response.audio_transcript.done")
        assert quoted["transcript"].startswith("The MCP tool encyclopaedia.lookup returned: All about tea.")


async def test_an_mcp_call_waits_for_approval_and_a_denial_skips_it(emulator: EmulatorServer) -> None:
    from tests.mcp_server import mcp_server

    async with mcp_server() as server, RawClient(emulator) as client:
        await client.update(tools=[_mcp(server.url)])  # the service's default: always ask
        await _listed(client)
        await say(client, "lookup topic=owls")
        done = await client.until("response.done")
        request = done["response"]["output"][0]
        assert request["type"] == "mcp_approval_request" and request["name"] == "lookup"
        assert json.loads(request["arguments"]) == {"topic": "owls"} and server.calls == []

        await client.send({"type": "conversation.item.create", "item": {
            "type": "mcp_approval_response", "approval_request_id": request["id"], "approve": True}})
        done = await client.until("response.done")  # the service starts the call itself
        call = done["response"]["output"][0]
        assert call["type"] == "mcp_call" and call["approval_request_id"] == request["id"]
        assert call["output"] == "All about owls." and server.calls == [("lookup", {"topic": "owls"})]

        await say(client, "lookup topic=bats")
        second = (await client.until("response.done"))["response"]["output"][0]
        await client.send({"type": "conversation.item.create", "item": {
            "type": "mcp_approval_response", "approval_request_id": second["id"], "approve": False}})
        await client.until("conversation.item.created")
        await client.send({"type": "response.create"})
        reply = await client.until("response.audio_transcript.done")
        assert "did not approve" in reply["transcript"] and len(server.calls) == 1

        await client.send({"type": "conversation.item.create", "item": {
            "type": "mcp_approval_response", "approval_request_id": second["id"], "approve": True}})
        assert (await client.until("error"))["error"]["param"] == "item.approval_request_id"


async def test_mcp_failures_are_reported_as_the_service_does(emulator: EmulatorServer) -> None:
    from tests.mcp_server import mcp_server

    async with mcp_server(api_key="right") as server, RawClient(emulator) as client:
        await client.update(tools=[_mcp(server.url, server_label="locked", headers={"X-Api-Key": "wrong"})])
        assert (await _listed(client))["type"] == "mcp_list_tools.failed"

        await client.update(tools=[_mcp(server.url, require_approval="never", headers={"X-Api-Key": "right"})])
        assert (await _listed(client))["type"] == "mcp_list_tools.completed"
        await say(client, "call broken now")
        done = await client.until("response.done")
        kinds = [e["type"] for e in since(client, "response.created")]
        assert "response.mcp_call.failed" in kinds and "response.mcp_call.completed" not in kinds
        assert "The MCP tool broken reported an error" in done["response"]["output"][0]["error"]


async def test_an_unreachable_mcp_server_fails_its_listing(emulator: EmulatorServer) -> None:
    async with RawClient(emulator) as client:
        await client.update(tools=[_mcp("http://127.0.0.1:9/mcp")])
        assert (await _listed(client))["type"] == "mcp_list_tools.failed"
        await say(client, "lookup topic=x")  # nothing listed, so nothing to call: a plain reply
        assert (await client.until("response.done"))["response"]["output"][0]["type"] == "message"


# ---------------------------------------------------------------------------------------------- agents
def _agent_url(server: EmulatorServer, query: str) -> str:
    return f"ws://127.0.0.1:{server.port}/voice-live/realtime?api-version=2026-07-15&{query}"


async def test_the_emulator_answers_as_the_agent_named_in_the_handshake(emulator: EmulatorServer) -> None:
    emulator.options.accept_any_token = True  # agents need Entra ID: any token stands in for one here
    url = _agent_url(emulator, "agent-name=concierge&agent-project-name=travel&agent-version=2&conversation-id=c7")
    async with connect(url, additional_headers={"Authorization": "Bearer token-1"}) as ws:
        created = json.loads(await ws.recv())
        agent = created["session"]["agent"]
        assert (agent["type"], agent["name"], agent["agent_id"], agent["thread_id"]) == (
            "agent", "concierge", "concierge:2", "c7")
        await ws.send(json.dumps({"type": "session.update", "session": {"instructions": "be brief"}}))
        error = json.loads(await ws.recv())
        assert error["type"] == "error" and error["error"]["param"] == "session.instructions"


@pytest.mark.parametrize(("query", "headers", "status"), [
    ("agent-name=concierge&agent-project-name=travel", {"api-key": "test-key-0123456789"}, 401),
    ("agent-name=concierge", {"Authorization": "Bearer t"}, 400),
])
async def test_agent_handshakes_the_service_refuses(emulator: EmulatorServer, query: str,
                                                    headers: dict[str, str], status: int) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(_agent_url(emulator, query), additional_headers=headers):
            pass
    assert info.value.response.status_code == status
