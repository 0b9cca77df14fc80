"""The session the app asks for, with its tools: the user's functions, the `[[mcp]]` servers, interim filler.

Tools live outside `Settings.session` (functions are code, not settings, and MCP headers are secrets that
must not be saved as session fields), so they are added to a copy of the session at connect time.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.protocol.session import SessionConfig
from app.protocol.tools import ToolDef, unsupported_features
from app.tools.registry import ToolRegistry
from app.tools.settings import InterimSettings, McpServerSettings


def session_with_tools(config: SessionConfig, *, registry: ToolRegistry, mcp: Sequence[McpServerSettings],
                       interim: InterimSettings) -> SessionConfig:
    """`config` plus the tool definitions and interim responses (unchanged when there are none)."""
    tools: list[ToolDef] = [*registry.definitions(), *(server.to_tool() for server in mcp)]
    update: dict[str, object] = {}
    if tools:
        update["tools"] = [*(config.tools or []), *tools]
    wire = interim.to_wire()
    if wire is not None:
        update["interim_response"] = wire
    return config.model_copy(update=update) if update else config


def version_problems(config: SessionConfig, api_version: str) -> list[str]:
    """Sentences for features the api-version lacks (say them at start-up; the service would refuse)."""
    return unsupported_features(config.tools, config.interim_response, api_version)
