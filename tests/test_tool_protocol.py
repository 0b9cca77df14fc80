"""Tool definitions, tool items and the tool fields of the session, checked against the SDK's own models."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from app.protocol import client_events as ce
from app.protocol import tool_events as te
from app.protocol.session import SessionConfig, Voice, agent_payload
from app.protocol.tools import (
    FunctionToolDef,
    LlmInterimResponse,
    McpToolDef,
    StaticInterimResponse,
    ToolChoiceFunction,
    unsupported_features,
    version_at_least,
)

WEATHER = FunctionToolDef(name="get_weather", description="Weather for a city.", parameters={
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
DOCS = McpToolDef(server_label="docs", server_url="https://learn.example/api/mcp", allowed_tools=["search"],
                  require_approval={"never": ["search"], "always": ["submit"]},
                  headers={"X-Api-Key": "hdr-secret-42"})

ITEMS: dict[str, dict[str, Any]] = {
    "function_call": {"id": "i1", "type": "function_call", "name": "f", "call_id": "c1", "arguments": "{}",
                      "status": "completed"},
    "function_call_output": {"id": "i2", "type": "function_call_output", "call_id": "c1", "output": "{}"},
    "mcp_list_tools": {"id": "i3", "type": "mcp_list_tools", "server_label": "docs",
                       "tools": [{"name": "search", "input_schema": {"type": "object"}}]},
    "mcp_call": {"id": "i4", "type": "mcp_call", "server_label": "docs", "name": "search", "arguments": "{}",
                 "output": "found", "approval_request_id": "a1"},
    "mcp_approval_request": {"id": "a1", "type": "mcp_approval_request", "server_label": "docs", "name": "search",
                             "arguments": '{"q": "x"}'},
    "mcp_approval_response": {"id": "i5", "type": "mcp_approval_response", "approval_request_id": "a1",
                              "approve": True},
}


@pytest.mark.parametrize("kind", sorted(ITEMS))
def test_every_tool_item_parses_to_its_type(kind: str) -> None:
    item = te.parse_tool_item({**ITEMS[kind], "object": "realtime.item", "new_field": 1})
    assert item is not None and item.type == kind


def test_other_items_are_not_tool_items_and_bad_ones_say_which_field() -> None:
    assert te.parse_tool_item({"type": "message", "role": "assistant", "content": []}) is None
    assert te.parse_tool_item({"type": "web_search_call"}) is None
    with pytest.raises(te.ItemError, match="mcp_approval_request item: server_label"):
        te.parse_tool_item({"type": "mcp_approval_request", "name": "search"})


def test_client_items_are_what_the_sdk_builds() -> None:
    m = pytest.importorskip("azure.ai.voicelive.models")
    output = ce.function_call_output_item("c1", '{"temp": 21}')
    assert m.FunctionCallOutputItem(call_id="c1", output='{"temp": 21}').as_dict() == output
    approval = ce.mcp_approval_response_item("a1", approve=False)
    assert m.MCPApprovalResponseRequestItem(approval_request_id="a1", approve=False).as_dict() == approval
    assert te.parse_tool_item(approval) is not None


@pytest.mark.parametrize("interim", [
    None,
    StaticInterimResponse(triggers=["tool", "latency"], latency_threshold_ms=1500, texts=["One moment."]),
    LlmInterimResponse(triggers=["tool"], instructions="Say you are checking.", max_completion_tokens=20),
])
def test_tool_fields_round_trip_through_the_sdk_session_model(interim: Any) -> None:
    m = pytest.importorskip("azure.ai.voicelive.models")
    config = SessionConfig(tools=[WEATHER, DOCS], tool_choice=ToolChoiceFunction(name="get_weather"),
                           parallel_tool_calls=False, interim_response=interim)
    payload = config.to_payload("2026-07-15")
    sdk = m.RequestSession(payload)
    assert isinstance(sdk.tools[0], m.FunctionTool) and isinstance(sdk.tools[1], m.MCPServer)
    assert payload["tools"][1]["headers"] == {"X-Api-Key": "hdr-secret-42"}  # the wire carries the real value
    assert sdk.as_dict() == payload
    assert SessionConfig.from_payload(sdk.as_dict()) == config


@pytest.mark.parametrize(("session", "where"), [
    ({"tools": [{"type": "function", "name": "bad name!"}]}, "tools.0.function.name"),
    ({"tools": [{"type": "function", "name": "f", "parameters": {"type": "string"}}]}, "tools.0.function.parameters"),
    ({"tools": [{"type": "function", "name": "f", "strict": True}]}, "tools.0.function.strict"),
    ({"tools": [{"type": "code_interpreter"}]}, "tools.0"),
    ({"tools": [{"type": "mcp", "server_label": "x", "server_url": "ftp://x"}]}, "tools.0.mcp.server_url"),
    ({"tools": [{"type": "function", "name": "f"}, {"type": "function", "name": "f"}]}, "tools"),
    ({"tools": [{"type": "function", "name": "f"}], "tool_choice": {"type": "function", "name": "g"}},
     "tool_choice"),
    ({"tool_choice": "sometimes"}, "tool_choice"),
    ({"interim_response": {"type": "static_interim_response", "texts": []}}, "interim_response"),
])
def test_malformed_tool_fields_are_refused_naming_the_field(session: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as info:
        SessionConfig.model_validate(session)
    locs = [".".join(str(p) for p in e["loc"]) for e in info.value.errors()]
    assert any(loc.startswith(where) for loc in locs), locs


def test_a_reported_session_with_a_new_tool_kind_still_parses() -> None:
    config = SessionConfig.from_payload({"tools": [{"type": "file_search", "x": 1}, WEATHER.model_dump()]})
    assert config.tools == [WEATHER]


def test_mcp_secrets_stay_out_of_repr() -> None:
    secret_tool = DOCS.model_copy(update={"authorization": "Bearer zq9tok"})
    text = repr(SessionConfig(tools=[secret_tool])) + str(secret_tool)
    assert "hdr-secret-42" not in text and "zq9tok" not in text and "X-Api-Key" in text


@pytest.mark.parametrize(("mode", "tool", "asks"), [
    (None, "search", True), ("always", "search", True), ("never", "search", False),
    ({"never": ["search"]}, "search", False), ({"never": ["search"]}, "other", True),
    ({"always": ["submit"], "never": ["search"]}, "submit", True),
])
def test_approval_follows_the_documented_modes(mode: Any, tool: str, asks: bool) -> None:
    server = McpToolDef(server_label="s", server_url="http://127.0.0.1:1/mcp", require_approval=mode)
    assert server.needs_approval(tool) is asks


def test_word_timestamps_are_requested_by_default_except_for_openai_voices() -> None:
    assert SessionConfig().to_payload("2025-05-01-preview")["output_audio_timestamp_types"] == ["word"]
    assert SessionConfig().to_payload("2026-07-15")["output_audio_timestamp_types"] == ["word"]
    openai = SessionConfig(voice=Voice(type="openai", name="alloy", temperature=None))
    assert "output_audio_timestamp_types" not in openai.to_payload("2026-07-15")


def test_an_agent_session_carries_no_instructions() -> None:
    payload = agent_payload(SessionConfig(instructions="be terse").to_payload("2026-07-15"))
    assert "instructions" not in payload and payload["voice"]["name"]


def test_api_versions_compare_and_missing_features_are_named() -> None:
    assert version_at_least("2026-07-15", "2026-04-10")
    assert version_at_least("2026-04-10", "2026-04-10")
    assert not version_at_least("2026-04-10-preview", "2026-04-10")
    assert version_at_least("2026-01-01-preview", "2026-01-01-preview")
    assert not version_at_least("2025-10-01", "2026-01-01-preview")
    assert unsupported_features([WEATHER, DOCS], None, "2026-07-15") == []
    problems = unsupported_features([DOCS], StaticInterimResponse(texts=["hm"]), "2025-10-01")
    assert len(problems) == 2 and all(p.endswith(".") for p in problems)
