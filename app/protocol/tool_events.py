"""Typed tool events and tool items: function calls, MCP tool listing, MCP calls and MCP approvals.

Importing this module registers the events with `events.parse_server_event` (they subclass
`ServerEvent`). Items arrive inside `conversation.item.created` / `response.output_item.added|done` as
plain dicts; `parse_tool_item` turns the tool kinds into typed models, so a consumer never reads a tool
item's fields out of a dict by hand. Field names and optionality follow azure-ai-voicelive 1.3.1's models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from app.protocol.events_base import ServerEvent


# ------------------------------------------------------------------------------------------- events
class FunctionCallArgumentsDelta(ServerEvent):
    """A fragment of a function call's JSON arguments, as the model writes them."""

    TYPE = "response.function_call_arguments.delta"
    response_id: str | None = None
    item_id: str | None = None
    output_index: int = 0
    call_id: str
    delta: str = ""


class FunctionCallArgumentsDone(ServerEvent):
    """The model finished a function call: the client runs it and answers with `function_call_output`."""

    TYPE = "response.function_call_arguments.done"
    response_id: str | None = None
    item_id: str | None = None
    output_index: int = 0
    call_id: str
    name: str = ""
    arguments: str = ""


class _McpListTools(ServerEvent):
    item_id: str


class McpListToolsInProgress(_McpListTools):
    """The service started listing an MCP server's tools (the `mcp_list_tools` item `item_id`)."""

    TYPE = "mcp_list_tools.in_progress"


class McpListToolsCompleted(_McpListTools):
    TYPE = "mcp_list_tools.completed"


class McpListToolsFailed(_McpListTools):
    """The MCP server could not be reached or refused the listing; its tools are unavailable."""

    TYPE = "mcp_list_tools.failed"


class McpCallArgumentsDelta(ServerEvent):
    TYPE = "response.mcp_call_arguments.delta"
    response_id: str | None = None
    item_id: str
    output_index: int = 0
    delta: str = ""


class McpCallArgumentsDone(ServerEvent):
    TYPE = "response.mcp_call_arguments.done"
    response_id: str | None = None
    item_id: str
    output_index: int = 0
    arguments: str | None = None


class _McpCallState(ServerEvent):
    item_id: str
    output_index: int = 0


class McpCallInProgress(_McpCallState):
    """The service is calling the MCP tool (after approval, when one was required)."""

    TYPE = "response.mcp_call.in_progress"


class McpCallCompleted(_McpCallState):
    """The call returned; its output is on the `mcp_call` item (`response.output_item.done`)."""

    TYPE = "response.mcp_call.completed"


class McpCallFailed(_McpCallState):
    TYPE = "response.mcp_call.failed"


# -------------------------------------------------------------------------------------------- items
class _Item(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    id: str | None = None
    object: str | None = None


class FunctionCallItem(_Item):
    type: Literal["function_call"]
    name: str
    call_id: str
    arguments: str = ""
    status: str | None = None


class FunctionCallOutputItem(_Item):
    type: Literal["function_call_output"]
    call_id: str
    output: str = ""


class McpToolInfo(BaseModel):
    """One tool an MCP server offers, as listed in an `mcp_list_tools` item."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    name: str
    description: str | None = None
    input_schema: Any = None
    annotations: Any = None


class McpListToolsItem(_Item):
    type: Literal["mcp_list_tools"]
    server_label: str
    tools: list[McpToolInfo] = []


class McpCallItem(_Item):
    type: Literal["mcp_call"]
    server_label: str
    name: str
    arguments: str = ""
    approval_request_id: str | None = None
    output: str | None = None
    error: Any = None


class McpApprovalRequestItem(_Item):
    """The service asks the client whether it may call `name` on `server_label` with `arguments`."""

    type: Literal["mcp_approval_request"]
    server_label: str
    name: str
    arguments: str | None = None


class McpApprovalResponseItem(_Item):
    type: Literal["mcp_approval_response"]
    approval_request_id: str
    approve: bool
    reason: str | None = None


ToolItem = Annotated[
    FunctionCallItem | FunctionCallOutputItem | McpListToolsItem | McpCallItem | McpApprovalRequestItem
    | McpApprovalResponseItem,
    Field(discriminator="type"),
]
TOOL_ITEM_TYPES = frozenset({"function_call", "function_call_output", "mcp_list_tools", "mcp_call",
                             "mcp_approval_request", "mcp_approval_response"})
_TOOL_ITEM = TypeAdapter[ToolItem](ToolItem)


class ItemError(ValueError):
    """A tool item whose fields have the wrong shape; the message names the item type and the field."""


def parse_tool_item(item: dict[str, Any]) -> ToolItem | None:
    """The typed form of a tool item, or None for any other item (messages, kinds this client ignores).

    Raises `ItemError` for a tool item that is malformed, so the caller can say so once and go on.
    """
    kind = item.get("type")
    if kind not in TOOL_ITEM_TYPES:
        return None
    try:
        return _TOOL_ITEM.validate_python(item)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or "item"
        raise ItemError(f"malformed {kind} item: {where}: {first['msg']}") from None
