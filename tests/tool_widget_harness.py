"""A tiny App that shows tool-call blocks inside an assistant turn and opens the approval prompt.

Used by the Pilot tests and the snapshots; it loads the real stylesheet, so what it shows is what the
conversation will show once the session posts tool notices (phase 2).
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Label, Static

from app.screens.approval import ApprovalScreen
from app.tools.call_state import ApprovalRequest, ToolCallState
from app.widgets.tool_call import ToolCallBlock

STYLES = Path(__file__).resolve().parents[1] / "app" / "styles.tcss"

WEATHER = ToolCallState("call_1", "get_weather", '{"city": "Reykjavík", "days": 3}', state="done",
                       result='{"forecast": ["sleet", "wind", "sun"], "high_c": 4}', duration_ms=212)
DOCS = ToolCallState("mcp_1", "microsoft_docs_search", '{"query": "voice live interim responses"}', state="failed",
                    error="The MCP server did not answer within 30 s.", duration_ms=30000, server_label="docs",
                    kind="mcp")
NOTE = ToolCallState("call_2", "save_note", '{"text": "[bold]buy milk[/bold]", "title": "shopping"}',
                    state="awaiting_approval")


class ToolCallsApp(App[None]):
    CSS_PATH = str(STYLES)

    def __init__(self, calls: tuple[ToolCallState, ...] = (WEATHER, DOCS, NOTE), *, expanded: bool = False) -> None:
        super().__init__()
        self.calls = calls
        self.expanded = expanded
        self.answers: list[bool | None] = []

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="conversation-log"), Vertical(classes="turn -assistant"):
            yield Label("Assistant", classes="turn-heading")
            for call in self.calls:
                yield ToolCallBlock(call, expanded=self.expanded)
            yield Static("It will be sleet, wind, then sun in Reykjavík; 4 °C at most.", classes="turn-body")

    def ask(self, request: ApprovalRequest, *, waiting: int = 0) -> None:
        self.push_screen(ApprovalScreen(request, waiting=waiting), callback=self.answers.append)
