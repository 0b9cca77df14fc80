"""Tool-call blocks and the approval prompt under Pilot, and their snapshots.

Snapshots — what a reviewer should see:
* tool_calls_collapsed — an assistant turn with three one-line blocks: get_weather ✓ 212 ms (accent edge),
  docs.microsoft_docs_search ✗ 30000 ms (red edge, red text), save_note "? waiting for your answer"
  (amber edge); the `[bold]` in save_note's arguments is shown literally, not as bold.
* tool_calls_expanded — the same blocks open: pretty-printed arguments, then the result or the error.
* approval_prompt — a centred amber-bordered box: "Run the tool save_note?", the arguments as indented
  JSON, "1 more request waits after this one.", Approve (y) and Deny (n), Deny focused.
* approval_prompt_mcp — "Allow the MCP server docs to run microsoft_docs_search?".
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from app.screens.approval import ApprovalScreen
from app.tools.call_state import ApprovalRequest, ToolCallState
from app.widgets.tool_call import ToolCallBlock, summary
from tests.tool_widget_harness import DOCS, NOTE, WEATHER, ToolCallsApp

NOTE_REQUEST = ApprovalRequest("call_2", "save_note", NOTE.arguments)
MCP_REQUEST = ApprovalRequest("apr_1", "microsoft_docs_search", DOCS.arguments, kind="mcp", server_label="docs")


def _text(block: ToolCallBlock, part: str) -> str:
    return str(block.query_one(f".tool-call-{part}", Static).render())


async def test_blocks_start_collapsed_and_toggle_with_keys_and_clicks() -> None:
    app = ToolCallsApp()
    async with app.run_test() as pilot:
        first = app.query(ToolCallBlock).first()
        body = first.query_one(".tool-call-body", Static)
        assert not first.expanded and not body.display
        assert 'city="Reykjavík"' in _text(first, "header") and "✓ 212 ms" in _text(first, "header")
        first.focus()
        await pilot.press("enter")
        assert first.expanded and body.display and '"high_c": 4' in _text(first, "body")
        await pilot.press("space")
        assert not first.expanded and not body.display
        await pilot.click(ToolCallBlock)
        assert first.expanded


async def test_network_text_is_never_markup_and_the_state_can_move_on() -> None:
    app = ToolCallsApp((NOTE,), expanded=True)
    async with app.run_test() as pilot:
        block = app.query_one(ToolCallBlock)
        assert '"[bold]buy milk[/bold]"' in _text(block, "body")
        assert block.has_class("tool-call--pending") and "waiting for your answer" in _text(block, "header")
        block.show(NOTE.update(state="declined", error="The user declined to run the tool save_note."))
        await pilot.pause()
        assert block.has_class("tool-call--error") and not block.has_class("tool-call--pending")
        assert "declined" in _text(block, "header") and "The user declined" in _text(block, "body")


def test_the_collapsed_summary_fits_one_line() -> None:
    assert summary('{"a": 1, "b": "x"}') == 'a=1, b="x"'
    assert summary("not json\n at all") == "not json at all"
    assert len(summary('{"text": "' + "w" * 200 + '"}')) == 48


@pytest.mark.parametrize(("keys", "answer"), [(["y"], True), (["n"], False), (["escape"], False),
                                              (["enter"], False)])
async def test_the_prompt_answers_with_dismiss(keys: list[str], answer: bool) -> None:
    app = ToolCallsApp()
    async with app.run_test() as pilot:
        app.ask(NOTE_REQUEST)
        await pilot.pause()
        assert isinstance(app.screen, ApprovalScreen)
        await pilot.press(*keys)
        await pilot.pause()
        assert app.answers == [answer] and not isinstance(app.screen, ApprovalScreen)


async def test_the_approve_button_and_stacked_requests() -> None:
    app = ToolCallsApp()
    async with app.run_test() as pilot:
        app.ask(NOTE_REQUEST)
        app.ask(MCP_REQUEST, waiting=1)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ApprovalScreen) and screen.request.kind == "mcp"
        title = str(screen.query_one("#approval-title", Static).render())
        assert title == "Allow the MCP server docs to run microsoft_docs_search?"
        await pilot.click("#approval-yes")
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        assert app.answers == [True, False] and not isinstance(app.screen, ApprovalScreen)


# ------------------------------------------------------------------------------------------- snapshots
async def _expand_nothing(pilot: Pilot[None]) -> None:
    await pilot.pause()


async def _open_prompt(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, ToolCallsApp)
    app.ask(NOTE_REQUEST, waiting=1)
    await pilot.pause()


async def _open_mcp_prompt(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, ToolCallsApp)
    app.ask(MCP_REQUEST)
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24)], ids=["80x24"])
@pytest.mark.parametrize(("name", "expanded", "before"), [
    ("tool_calls_collapsed", False, _expand_nothing),
    ("tool_calls_expanded", True, _expand_nothing),
    ("approval_prompt", False, _open_prompt),
    ("approval_prompt_mcp", False, _open_mcp_prompt),
])
def test_snapshot(snap_compare: Any, name: str, expanded: bool, before: Any, size: tuple[int, int]) -> None:
    assert snap_compare(ToolCallsApp((WEATHER, DOCS, NOTE), expanded=expanded), terminal_size=size,
                        run_before=before)


def test_the_blocks_are_views_of_frozen_data() -> None:
    done = ToolCallState("c", "f").update(state="done", result="1", duration_ms=3)
    assert (done.state, done.result, done.duration_ms) == ("done", "1", 3)
