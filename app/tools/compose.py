"""The session the app asks for, with its tools: the user's functions, the `[[mcp]]` servers, interim filler.

Tools live outside `Settings.session` (functions are code, not settings, and MCP headers are secrets that
must not be saved as session fields), so they are added to a copy of the session at connect time.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.protocol.session import SessionConfig
from app.protocol.tools import InterimResponse, StaticInterimResponse, ToolDef, unsupported_features
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


def settings_of(session: SessionConfig, *, configured: SessionConfig,
                interim: InterimSettings) -> tuple[SessionConfig, InterimSettings]:
    """The inverse, for saving: `session` (a live one, with tools composed in) as it goes back to the config
    file — the tools as the file had them (functions are code; MCP headers stay in `[[mcp]]`), and interim
    responses back in `[interim]` unless the file set them under `[session]`."""
    wire = session.interim_response
    stored = session.model_copy(update={"tools": configured.tools, "interim_response": configured.interim_response})
    if configured.interim_response is not None:
        return stored.model_copy(update={"interim_response": wire}), interim
    return stored, interim_settings(wire, interim)


def interim_settings(wire: InterimResponse | None, current: InterimSettings) -> InterimSettings:
    """`[interim]` describing `wire` (what the settings screen chose), keeping what the screen does not show."""
    if wire is None:
        return current.model_copy(update={"enabled": False})
    update: dict[str, object] = {"enabled": True, "latency_threshold_ms": wire.latency_threshold_ms
                                 if wire.latency_threshold_ms is not None else current.latency_threshold_ms}
    if wire.triggers:
        update["triggers"] = list(wire.triggers)
    if isinstance(wire, StaticInterimResponse):
        update.update(kind="static", texts=list(wire.texts))
    else:
        update.update(kind="llm", instructions=wire.instructions)
    return InterimSettings.model_validate({**current.model_dump(), **update})
