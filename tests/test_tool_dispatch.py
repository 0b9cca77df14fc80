"""ToolDispatch: from server events to what the session sends, runs, shows and asks — with real tools."""

from __future__ import annotations

import json
from typing import Any

from app.protocol import events as ev
from app.tools import tool
from app.tools.dispatch import Action, Ask, Run, Say, Send, Show, ToolDispatch, Withdraw
from app.tools.registry import ToolRegistry, describe
from app.tools.runner import ToolRunner


@tool(safe=True)
def current_time(timezone: str) -> str:
    """The time in a zone."""
    return f"21:07 in {timezone}"


def save_note(text: str) -> str:
    """Save a note (asks first)."""
    return "saved"


def _dispatch() -> ToolDispatch:
    registry = ToolRegistry([describe(current_time), describe(save_note)])
    return ToolDispatch(registry, ToolRunner(registry, timeout_s=5))


def _feed(dispatch: ToolDispatch, kind: str, **fields: Any) -> list[Action]:
    return dispatch.handle(ev.parse_server_event({"type": kind, **fields}))


def _sent(actions: list[Action]) -> list[dict[str, Any]]:
    return [json.loads(a.event.to_json()) for a in actions if isinstance(a, Send)]


def _states(actions: list[Action]) -> list[str]:
    return [a.state.state for a in actions if isinstance(a, Show)]


def _function_call(dispatch: ToolDispatch, name: str, arguments: str, call_id: str = "call_1") -> list[Action]:
    _feed(dispatch, "response.created", response={"id": "r1", "status": "in_progress"})
    added = _feed(dispatch, "response.output_item.added", response_id="r1", output_index=0, item={
        "id": "item_1", "type": "function_call", "name": name, "call_id": call_id, "arguments": "",
        "status": "in_progress"})
    assert _states(added) == ["streaming"]
    return _feed(dispatch, "response.function_call_arguments.done", response_id="r1", item_id="item_1",
                 output_index=0, call_id=call_id, name=name, arguments=arguments)


async def test_a_safe_tool_runs_and_the_follow_up_waits_for_response_done() -> None:
    dispatch = _dispatch()
    actions = _function_call(dispatch, "current_time", '{"timezone": "UTC"}')
    assert _states(actions) == ["running"]
    run = next(a for a in actions if isinstance(a, Run))
    result = await dispatch.runner.run(run.name, run.arguments, call_id=run.call_id)
    finished = dispatch.finished(result)
    assert _states(finished) == ["done"]
    shown = next(a.state for a in finished if isinstance(a, Show))
    assert shown.result == "21:07 in UTC" and shown.duration_ms is not None and shown.response_id == "r1"
    assert _sent(finished) == [{"type": "conversation.item.create", "item": {
        "type": "function_call_output", "call_id": "call_1", "output": "21:07 in UTC"}}]
    done = _feed(dispatch, "response.done", response={"id": "r1", "status": "completed"})
    assert _sent(done) == [{"type": "response.create"}]


def test_an_ask_tool_waits_for_the_user_and_a_denial_is_an_output() -> None:
    dispatch = _dispatch()
    actions = _function_call(dispatch, "save_note", '{"text": "milk"}')
    assert _states(actions) == ["awaiting_approval"] and not any(isinstance(a, Run) for a in actions)
    ask = next(a for a in actions if isinstance(a, Ask))
    assert (ask.request.request_id, ask.request.name, ask.request.kind) == ("call_1", "save_note", "function")
    assert _sent(_feed(dispatch, "response.done", response={"id": "r1", "status": "completed"})) == []
    answered = dispatch.answer("call_1", approve=False)
    assert _states(answered) == ["declined"]
    sent = _sent(answered)
    assert json.loads(sent[0]["item"]["output"]) == {"error": "The user declined to run the tool save_note."}
    assert sent[1] == {"type": "response.create"}
    assert dispatch.answer("call_1", approve=True) == []  # answered once only


def test_an_approved_ask_tool_runs() -> None:
    dispatch = _dispatch()
    _function_call(dispatch, "save_note", '{"text": "milk"}')
    answered = dispatch.answer("call_1", approve=True)
    assert _states(answered) == ["running"] and any(isinstance(a, Run) for a in answered)


def test_unknown_and_disabled_tools_are_answered_at_once() -> None:
    dispatch = _dispatch()
    dispatch.registry.policies["current_time"] = "never"
    unknown = _function_call(dispatch, "launch_rockets", "{}")
    assert _states(unknown) == ["failed"] and "There is no tool" in _sent(unknown)[0]["item"]["output"]
    disabled = _function_call(dispatch, "current_time", "{}", call_id="call_2")
    assert "disabled" in _sent(disabled)[0]["item"]["output"]


async def test_a_call_that_ends_before_its_item_is_done_stays_ended() -> None:
    """The service sends `response.output_item.done` for the call's item after its arguments; a refused call
    (at once) or a quick one (CI: 7 ms) has ended by then, and the late item must not start it over."""
    dispatch = _dispatch()
    item = {"id": "item_1", "type": "function_call", "name": "launch_rockets", "call_id": "call_1",
            "arguments": "{}", "status": "completed"}
    item_done: dict[str, Any] = {"type": "response.output_item.done", "response_id": "r1", "output_index": 0,
                                 "item": item}
    assert _states(_function_call(dispatch, "launch_rockets", "{}")) == ["failed"]
    assert dispatch.handle(ev.parse_server_event(item_done)) == []
    actions = _function_call(dispatch, "current_time", '{"timezone": "UTC"}', call_id="call_2")
    run = next(a for a in actions if isinstance(a, Run))
    assert _states(dispatch.finished(await dispatch.runner.run(run.name, run.arguments, call_id="call_2"))) == ["done"]
    late = {**item_done, "item": {**item, "name": "current_time", "call_id": "call_2"}}
    assert dispatch.handle(ev.parse_server_event(late)) == []


def test_an_mcp_call_without_approval_is_shown_and_followed_up() -> None:
    dispatch = _dispatch()
    _feed(dispatch, "response.created", response={"id": "r1"})
    item = {"id": "mcp_1", "type": "mcp_call", "server_label": "docs", "name": "search", "arguments": ""}
    assert _states(_feed(dispatch, "response.output_item.added", response_id="r1", item=item)) == ["streaming"]
    assert _feed(dispatch, "conversation.item.created", item=item) == []
    args = _feed(dispatch, "response.mcp_call_arguments.done", response_id="r1", item_id="mcp_1",
                 arguments='{"q": "x"}')
    assert [a.state.arguments for a in args if isinstance(a, Show)] == ['{"q": "x"}']
    assert _states(_feed(dispatch, "response.mcp_call.in_progress", item_id="mcp_1")) == ["running"]
    completed = _feed(dispatch, "response.mcp_call.completed", item_id="mcp_1")
    assert _states(completed) == ["done"] and _sent(completed) == []
    result = _feed(dispatch, "response.output_item.done", response_id="r1",
                   item={**item, "arguments": '{"q": "x"}', "output": "found it"})
    assert [a.state.result for a in result if isinstance(a, Show)] == ["found it"]
    assert _sent(_feed(dispatch, "response.done", response={"id": "r1", "status": "completed"})) == [
        {"type": "response.create"}]


def test_an_mcp_approval_round_trip_keeps_one_block() -> None:
    dispatch = _dispatch()
    _feed(dispatch, "response.created", response={"id": "r1"})
    request = {"id": "apr_1", "type": "mcp_approval_request", "server_label": "docs", "name": "search",
               "arguments": '{"q": "x"}'}
    asked = _feed(dispatch, "response.output_item.added", response_id="r1", item=request)
    assert _states(asked) == ["awaiting_approval"] and isinstance(asked[1], Ask)
    assert _feed(dispatch, "conversation.item.created", item=request) == []  # no second question
    assert _sent(_feed(dispatch, "response.done", response={"id": "r1", "status": "completed"})) == []

    answered = dispatch.answer("apr_1", approve=True)
    assert _sent(answered) == [{"type": "conversation.item.create", "item": {
        "type": "mcp_approval_response", "approval_request_id": "apr_1", "approve": True}}]
    _feed(dispatch, "response.created", response={"id": "r2"})
    call = {"id": "mcp_9", "type": "mcp_call", "server_label": "docs", "name": "search", "arguments": "",
            "approval_request_id": "apr_1"}
    assert _feed(dispatch, "response.output_item.added", response_id="r2", item=call) == []
    running = _feed(dispatch, "response.mcp_call.in_progress", item_id="mcp_9")
    assert [(a.state.call_id, a.state.state) for a in running if isinstance(a, Show)] == [("apr_1", "running")]
    _feed(dispatch, "response.mcp_call.failed", item_id="mcp_9")
    failed = _feed(dispatch, "response.output_item.done", response_id="r2", item={**call, "error": "timeout"})
    assert [(a.state.call_id, a.state.state, a.state.error) for a in failed if isinstance(a, Show)] == [
        ("apr_1", "failed", "timeout")]
    assert _sent(_feed(dispatch, "response.done", response={"id": "r2", "status": "completed"})) == [
        {"type": "response.create"}]


def test_a_denied_mcp_call_and_a_lost_connection() -> None:
    dispatch = _dispatch()
    for n in (1, 2):
        _feed(dispatch, "conversation.item.created", item={"id": f"apr_{n}", "type": "mcp_approval_request",
                                                           "server_label": "docs", "name": "search"})
    denied = dispatch.answer("apr_1", approve=False)
    assert _sent(denied)[0]["item"]["approve"] is False and _states(denied) == ["declined"]
    reset = dispatch.reset()
    assert reset[0] == Withdraw("apr_2") and [(a.state.call_id, a.state.state) for a in reset[1:]
                                              if isinstance(a, Show)] == [("apr_2", "failed")]
    assert dispatch.reset() == []  # nothing is left to end twice
    assert dispatch.answer("apr_2", approve=True) == []


def test_listings_and_malformed_items_are_sentences() -> None:
    dispatch = _dispatch()
    listed = _feed(dispatch, "conversation.item.created", item={
        "id": "l1", "type": "mcp_list_tools", "server_label": "docs", "tools": [{"name": "search"}]})
    assert listed == [Say("MCP server docs: 1 tools (search).")]
    failed = _feed(dispatch, "mcp_list_tools.failed", item_id="l2")
    assert isinstance(failed[0], Say) and failed[0].level == "warning"
    bad = _feed(dispatch, "conversation.item.created", item={"id": "x", "type": "mcp_call"})
    assert isinstance(bad[0], Say) and "malformed mcp_call item" in bad[0].message
