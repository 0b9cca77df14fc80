"""The `[tools]`, `[[mcp]]`, `[agent]` and `[interim]` settings, and how they become wire definitions.

```toml
[tools]
modules = ["mytools", "examples/tools/clock_tools.py"]
timeout_s = 10
[tools.policies]
save_note = "auto"          # auto | ask | never; default: auto for @tool(safe=True), ask otherwise

[[mcp]]
label = "docs"
url = "https://learn.microsoft.com/api/mcp"
allowed_tools = ["microsoft_docs_search"]
require_approval = "never"  # always (the service's default) | never | {never = [...], always = [...]}
headers = {X-Api-Key = "..."}   # secret: never logged or shown

[agent]
name = "my-agent"
project = "my-project"

[interim]
enabled = true
kind = "static"
texts = ["One moment."]
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from app.protocol.endpoint import with_agent
from app.protocol.tools import (
    TOOL_NAME_PATTERN,
    ApprovalMode,
    InterimResponse,
    InterimTrigger,
    LlmInterimResponse,
    McpToolDef,
    StaticInterimResponse,
)
from app.tools.registry import ToolPolicy
from app.tools.runner import DEFAULT_TIMEOUT_S


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ToolsSettings(_Section):
    """The user's function tools."""

    modules: list[str] = Field(default_factory=list)
    """Python modules to load tools from: dotted names (sys.path or the working directory) or .py paths."""
    policies: dict[str, ToolPolicy] = Field(default_factory=dict)
    """Per tool: auto (run at once), ask (approval prompt) or never (not offered to the model)."""
    timeout_s: float = Field(DEFAULT_TIMEOUT_S, gt=0, le=600)
    """A call that takes longer is reported to the model as timed out."""
    entry_points: bool = True
    """Also load tools that installed packages offer under the `voicelive_tui.tools` entry-point group."""


class McpServerSettings(_Section):
    """One MCP server the service connects to on the app's behalf."""

    label: str = Field(pattern=TOOL_NAME_PATTERN)
    url: str = Field(pattern=r"^https?://\S+$")
    allowed_tools: list[str] | None = None
    """Only these tools of the server (all when unset)."""
    require_approval: ApprovalMode | dict[ApprovalMode, list[str]] = "always"
    """always: every call waits for your y/n; never: calls run at once; or per tool."""
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    """Sent by the service to the MCP server (API keys, tokens): secrets, kept out of logs and the screen."""

    def to_tool(self) -> McpToolDef:
        """The wire definition, with the real header values (it goes to the service and nowhere else)."""
        headers = {name: value.get_secret_value() for name, value in self.headers.items()}
        return McpToolDef(server_label=self.label, server_url=self.url, allowed_tools=self.allowed_tools,
                          require_approval=self.require_approval, headers=headers or None)

    def secrets(self) -> list[str]:
        return [v.get_secret_value() for v in self.headers.values() if v.get_secret_value()]

    def to_toml(self) -> dict[str, Any]:
        """What is saved back to the config file the entry came from: the header values as the user wrote
        them (a JSON dump would mask them as "**********" and break the server's authentication)."""
        data = self.model_dump(mode="json", exclude_none=True)
        data["headers"] = {name: value.get_secret_value() for name, value in self.headers.items()}
        return data


class AgentSettings(_Section):
    """A Foundry agent to talk to instead of a model (needs Microsoft Entra ID)."""

    name: str | None = Field(None, min_length=1)
    project: str | None = Field(None, min_length=1)
    """The Foundry project that holds the agent."""
    version: str | None = Field(None, min_length=1)
    conversation_id: str | None = Field(None, min_length=1)
    """Continue an existing Foundry conversation."""

    def problem(self) -> str | None:
        """One sentence when the agent settings are incomplete (checked once every source is layered on:
        the name may come from the environment and the project from a flag)."""
        if (self.name is None) != (self.project is None):
            return "A Foundry agent needs both a name and a project (--agent and --project)."
        if self.name is None and (self.version or self.conversation_id):
            return "An agent version or conversation id needs an agent (--agent and --project)."
        return None

    @property
    def enabled(self) -> bool:
        return self.name is not None

    def url(self, model_url: str) -> str:
        """The handshake URL for this agent, from the model URL `realtime_url` built (unchanged if no agent)."""
        if self.name is None or self.project is None:
            return model_url
        return with_agent(model_url, name=self.name, project=self.project, version=self.version,
                          conversation_id=self.conversation_id)


DEFAULT_INTERIM_TEXTS = ["One moment.", "Let me check that.", "Just a second."]


class InterimSettings(_Section):
    """Filler the service speaks while a tool runs or a reply is slow (cascaded models only)."""

    enabled: bool = False
    kind: Literal["llm", "static"] = "llm"
    """llm: a small model writes the filler; static: one of `texts` at random."""
    triggers: list[InterimTrigger] = Field(default_factory=lambda: list[InterimTrigger](["tool", "latency"]),
                                           min_length=1)
    latency_threshold_ms: int = Field(2000, ge=0)
    texts: list[str] = Field(default_factory=lambda: list(DEFAULT_INTERIM_TEXTS), min_length=1)
    instructions: str | None = None
    """For kind = "llm": how the filler should sound."""

    def to_wire(self) -> InterimResponse | None:
        if not self.enabled:
            return None
        if self.kind == "static":
            return StaticInterimResponse(triggers=self.triggers, latency_threshold_ms=self.latency_threshold_ms,
                                         texts=self.texts)
        return LlmInterimResponse(triggers=self.triggers, latency_threshold_ms=self.latency_threshold_ms,
                                  instructions=self.instructions)
