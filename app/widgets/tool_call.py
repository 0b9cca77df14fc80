"""A tool call inside the assistant's turn: one compact line, expandable to its arguments and result.

Collapsed: `⚙ current_time  timezone="Asia/Tokyo"  ✓ 12 ms`. Expanded (Enter, space or a click): the
arguments pretty-printed and the result or the error below. Everything shown comes from the network or
from the user's code, so it is built as `Content` (plain text), never parsed as markup.
"""

from __future__ import annotations

import json

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from app.tools.call_state import CallState, ToolCallState

SUMMARY_CHARS = 48
BODY_CHARS = 4000  # what the expanded block shows of a long result

_STATE_MARK: dict[CallState, tuple[str, str]] = {
    "streaming": ("…", "tool-call--pending"),
    "awaiting_approval": ("? waiting for your answer", "tool-call--pending"),
    "running": ("running…", "tool-call--pending"),
    "done": ("✓", "tool-call--ok"),
    "failed": ("✗", "tool-call--error"),
    "declined": ("⊘ declined", "tool-call--error"),
}


def pretty(text: str) -> str:
    """JSON indented for reading; anything else as it came."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def summary(arguments: str) -> str:
    """`key="value", n=3` on one line, cut to fit the collapsed header."""
    try:
        data = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        data = None
    if isinstance(data, dict):
        text = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in data.items())
    else:
        text = " ".join(arguments.split())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


class ToolCallBlock(Vertical, can_focus=True):
    """Collapsed by default; toggled with Enter, space or a click."""

    BINDINGS = [Binding("enter,space", "toggle_block", "Expand", show=False, id="tool-call-toggle")]
    expanded: reactive[bool] = reactive(False)

    class Toggled(Message):
        def __init__(self, block: ToolCallBlock, expanded: bool) -> None:
            super().__init__()
            self.block = block
            self.expanded = expanded

    def __init__(self, call: ToolCallState, *, expanded: bool = False) -> None:
        super().__init__(classes="tool-call")
        self.call = call
        self.set_reactive(ToolCallBlock.expanded, expanded)

    def compose(self) -> ComposeResult:
        yield Static(self._header(), classes="tool-call-header")
        yield Static(self._body(), classes="tool-call-body")

    def on_mount(self) -> None:
        self.set_class(self.expanded, "-expanded")
        self._restyle()

    def show(self, call: ToolCallState) -> None:
        """Draw a newer state of the same call (arguments complete, result in, declined …)."""
        self.call = call
        if self.is_mounted:
            self.query_one(".tool-call-header", Static).update(self._header())
            self.query_one(".tool-call-body", Static).update(self._body())
            self._restyle()

    def action_toggle_block(self) -> None:
        self.expanded = not self.expanded

    def on_click(self) -> None:
        self.action_toggle_block()

    def watch_expanded(self, expanded: bool) -> None:
        self.set_class(expanded, "-expanded")
        if self.is_mounted:
            self.query_one(".tool-call-header", Static).update(self._header())
        self.post_message(self.Toggled(self, expanded))

    # ------------------------------------------------------------------ drawing
    def _restyle(self) -> None:
        for _, css_class in _STATE_MARK.values():
            self.remove_class(css_class)
        self.add_class(_STATE_MARK[self.call.state][1])

    def _header(self) -> Content:
        call = self.call
        mark, _ = _STATE_MARK[call.state]
        name = f"{call.server_label}.{call.name}" if call.server_label else call.name
        parts: list[str | tuple[str, str] | Content] = [
            ("▾ " if self.expanded else "▸ ", "dim"), ("⚙ ", ""), (name, "bold"),
        ]
        if call.arguments and not self.expanded:
            parts += ["  ", (summary(call.arguments), "dim")]
        parts += ["  ", mark]
        if call.duration_ms is not None and call.state in ("done", "failed"):
            parts += [" ", (f"{call.duration_ms} ms", "dim")]
        return Content.assemble(*parts)

    def _body(self) -> Content:
        call = self.call
        lines: list[str | tuple[str, str] | Content] = [("arguments\n", "bold"), pretty(call.arguments or "{}")]
        if call.error:
            lines += ["\n", ("error\n", "bold"), call.error]
        elif call.result is not None:
            shown = pretty(call.result)
            if len(shown) > BODY_CHARS:
                shown = shown[:BODY_CHARS] + f"… ({len(shown)} characters)"
            lines += ["\n", ("result\n", "bold"), shown]
        return Content.assemble(*lines)
