"""Tool definitions, tool choice and interim responses as they go on the wire in `session.update`.

Shared by the client (which builds them from the user's functions and `[[mcp]]` entries) and the emulator
(which validates what a client sends with the same models, so both ends agree on "valid"). Shapes follow
azure-ai-voicelive 1.3.1 (`FunctionTool`, `MCPServer`, `ToolChoiceFunctionSelection`,
`StaticInterimResponseConfig` / `LlmInterimResponseConfig`). The name and label patterns are the OpenAI
realtime rules, which the Voice Live documentation does not restate (inferred, kept strict on purpose).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TOOL_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MCP_MIN_API_VERSION = "2026-04-10"  # "API version required: 2026-04-10 or later" (MCP how-to)
INTERIM_MIN_API_VERSION = "2026-01-01-preview"  # the interim-response how-to


class _Wire(BaseModel):
    """Unknown fields are refused, as the service refuses them (the emulator reports them with `param`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FunctionToolDef(_Wire):
    """A function the client runs itself; `parameters` is a JSON schema of type object."""

    type: Literal["function"] = "function"
    name: str = Field(pattern=TOOL_NAME_PATTERN)
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})

    @field_validator("parameters")
    @classmethod
    def _object_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type") != "object":
            raise ValueError("parameters must be a JSON schema with type 'object'")
        if not isinstance(value.get("properties", {}), dict):
            raise ValueError("parameters.properties must be an object")
        return value


ApprovalMode = Literal["always", "never"]


class McpToolDef(_Wire):
    """An MCP server the service connects to and calls itself. Header values and `authorization` are secrets:
    `repr()` hides them; what is sent is the real value."""

    type: Literal["mcp"] = "mcp"
    server_label: str = Field(pattern=TOOL_NAME_PATTERN)
    server_url: str = Field(pattern=r"^https?://\S+$")
    allowed_tools: list[str] | None = None
    require_approval: ApprovalMode | dict[ApprovalMode, list[str]] | None = None
    headers: dict[str, str] | None = None
    authorization: str | None = None

    def __repr_args__(self) -> Any:
        for key, value in super().__repr_args__():
            if key == "headers" and value:
                yield key, {name: "***" for name in value}
            elif key == "authorization" and value:
                yield key, "***"
            else:
                yield key, value

    def needs_approval(self, tool: str) -> bool:
        """Whether calling `tool` asks the client first; the service's default is "always"."""
        mode = self.require_approval
        if mode is None or isinstance(mode, str):
            return mode != "never"
        return tool not in mode.get("never", []) or tool in mode.get("always", [])


ToolDef = Annotated[FunctionToolDef | McpToolDef, Field(discriminator="type")]


class ToolChoiceFunction(_Wire):
    """Forces one named function tool."""

    type: Literal["function"] = "function"
    name: str = Field(pattern=TOOL_NAME_PATTERN)


ToolChoice = Literal["auto", "none", "required"] | ToolChoiceFunction
InterimTrigger = Literal["latency", "tool"]


class _Interim(_Wire):
    triggers: list[InterimTrigger] | None = None
    latency_threshold_ms: int | None = Field(None, ge=0)


class StaticInterimResponse(_Interim):
    """Filler picked at random from `texts` while a tool runs or the reply is slow."""

    type: Literal["static_interim_response"] = "static_interim_response"
    texts: list[str] = Field(min_length=1)


class LlmInterimResponse(_Interim):
    """Filler written by a small model (default gpt-4.1-mini, 50 tokens)."""

    type: Literal["llm_interim_response"] = "llm_interim_response"
    model: str | None = None
    instructions: str | None = None
    max_completion_tokens: int | None = Field(None, ge=1)


InterimResponse = Annotated[StaticInterimResponse | LlmInterimResponse, Field(discriminator="type")]


def check_tools(tools: list[Any], tool_choice: object = None) -> None:
    """Raise ValueError (one sentence) unless tool names are unique and a forced tool is declared."""
    seen: set[str] = set()
    for tool in tools:
        key = tool.name if isinstance(tool, FunctionToolDef) else f"mcp:{tool.server_label}"
        if key in seen:
            raise ValueError(f"duplicate tool {key.removeprefix('mcp:')!r}")
        seen.add(key)
    if isinstance(tool_choice, ToolChoiceFunction) and tool_choice.name not in seen:
        raise ValueError(f"tool_choice names {tool_choice.name!r}, which is not a declared function tool")


def _version_key(api_version: str) -> tuple[str, bool]:
    """Sort key: dates compare as text; a preview sorts before the GA release of the same date."""
    date, _, suffix = api_version.partition("-preview")
    return date, not api_version.endswith("-preview") and not suffix


def version_at_least(api_version: str, minimum: str) -> bool:
    return _version_key(api_version) >= _version_key(minimum)


def unsupported_features(tools: list[Any] | None, interim: object | None, api_version: str) -> list[str]:
    """One sentence per configured feature the api-version does not have (empty when all is well)."""
    problems: list[str] = []
    if any(isinstance(t, McpToolDef) for t in tools or []) and not version_at_least(api_version,
                                                                                   MCP_MIN_API_VERSION):
        problems.append(f"MCP servers need api-version {MCP_MIN_API_VERSION} or later (this is {api_version}).")
    if interim is not None and not version_at_least(api_version, INTERIM_MIN_API_VERSION):
        problems.append(f"Interim responses need api-version {INTERIM_MIN_API_VERSION} or later "
                        f"(this is {api_version}).")
    return problems
