"""What the UI is told about tool calls: the state of one call, and a question for the user.

Plain frozen data, made by `dispatch.ToolDispatch` and drawn by `widgets.tool_call.ToolCallBlock` and
`screens.approval.ApprovalScreen`; the session carries them inside its notices unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

CallState = Literal["streaming", "awaiting_approval", "running", "done", "failed", "declined"]
CallKind = Literal["function", "mcp"]


@dataclass(frozen=True)
class ToolCallState:
    """One call as the conversation shows it; a newer state of the same `call_id` replaces the older."""

    call_id: str  # the function call's call_id, or the MCP call's item id
    name: str
    arguments: str = ""
    state: CallState = "streaming"
    result: str | None = None
    error: str | None = None
    duration_ms: int | None = None
    kind: CallKind = "function"
    server_label: str | None = None  # MCP calls: the server that runs it
    item_id: str | None = None  # the conversation item (to place the block in the right assistant turn)
    response_id: str | None = None

    def update(self, **changes: object) -> ToolCallState:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ApprovalRequest:
    """One question for the user: may this function (policy `ask`) or this MCP tool run with these arguments?"""

    request_id: str  # the function call's call_id, or the mcp_approval_request item id
    name: str
    arguments: str = ""
    kind: CallKind = "function"
    server_label: str | None = None
