"""The approval prompt: may this tool run with these arguments? `y` approves, `n` or Escape denies.

Dismissed with True (approve) or False (deny), so the owner pushes it with a callback and answers the
service from there; nothing waits on the screen. The tool's name and arguments come from the model or an
MCP server, so they are shown as plain text, never as markup.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from app.tools.call_state import ApprovalRequest
from app.widgets.tool_call import pretty

ARGUMENT_CHARS = 6000


class ApprovalScreen(ModalScreen[bool]):
    AUTO_FOCUS = "#approval-no"  # Enter on a stray key press denies, never approves
    BINDINGS = [
        Binding("y", "answer(True)", "Approve", id="approval-approve"),
        Binding("n,escape", "answer(False)", "Deny", id="approval-deny"),
    ]

    def __init__(self, request: ApprovalRequest, *, waiting: int = 0) -> None:
        super().__init__()
        self.request = request
        self.waiting = waiting

    def compose(self) -> ComposeResult:
        request = self.request
        if request.kind == "mcp":
            title = Content.assemble("Allow the MCP server ", (request.server_label or "?", "bold"), " to run ",
                                     (request.name, "bold"), "?")
        else:
            title = Content.assemble("Run the tool ", (request.name, "bold"), "?")
        arguments = pretty(request.arguments or "{}")
        if len(arguments) > ARGUMENT_CHARS:
            arguments = arguments[:ARGUMENT_CHARS] + f"… ({len(arguments)} characters)"
        with Vertical(id="approval-body"):
            yield Static(title, id="approval-title")
            yield Static(Content("with these arguments:"), classes="approval-label")
            with VerticalScroll(id="approval-arguments"):
                yield Static(Content(arguments))
            if self.waiting:
                more = "1 more request waits" if self.waiting == 1 else f"{self.waiting} more requests wait"
                yield Static(Content(f"{more} after this one."), classes="approval-hint")
            with Horizontal(id="approval-buttons"):
                yield Button("Approve (y)", variant="success", id="approval-yes")
                yield Button("Deny (n)", variant="error", id="approval-no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_answer(event.button.id == "approval-yes")

    def action_answer(self, approve: bool) -> None:
        self.dismiss(approve)
