"""What a session starts with, composed from the settings: its tools, its configuration, where it connects.

Kept out of the App so the composition is plain code (no Textual) that tests can call, and so the App
only wires services. The user's tool modules are imported here, once, at start-up; a module that fails
becomes one warning and the app goes on without it.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from azure.core.credentials import AccessToken

from app.config import Settings
from app.protocol.endpoint import realtime_url
from app.protocol.session import SessionConfig
from app.tools.compose import session_with_tools, version_problems
from app.tools.dispatch import ToolDispatch
from app.tools.registry import ENTRY_POINT_GROUP, ToolRegistry, load_tools
from app.tools.runner import ToolRunner

if TYPE_CHECKING:
    from app.emulator.thread import EmulatorThread


@dataclass
class SessionSetup:
    config: SessionConfig
    """The session as configured, plus the tool definitions and interim responses."""
    tools: ToolDispatch
    warnings: list[str] = field(default_factory=list)
    """One sentence each: a tool module that did not load, a feature the api-version lacks."""


def session_setup(settings: Settings, *, base_dir: Path | None = None) -> SessionSetup:
    """Load the user's tools and compose the session with them (never raises for the user's code)."""
    wanted = settings.tools
    registry, warnings = ToolRegistry(policies=wanted.policies), []
    if wanted.modules or wanted.entry_points:
        loaded = load_tools(wanted.modules, policies=wanted.policies, base_dir=base_dir,
                            entry_point_group=ENTRY_POINT_GROUP if wanted.entry_points else None)
        registry, warnings = loaded.registry, list(loaded.problems)
    session = settings.session
    if settings.push_to_talk:  # TOML has no null: push-to-talk is its own setting, turn detection off
        session = session.model_copy(update={"turn_detection": None})
    config = session_with_tools(session, registry=registry, mcp=settings.mcp, interim=settings.interim)
    warnings += version_problems(config, settings.connection.api_version)
    # Always a dispatch, even without tools of our own: an agent's or a stray call still gets an answer.
    return SessionSetup(config, ToolDispatch(registry, ToolRunner(registry, timeout_s=wanted.timeout_s)), warnings)


def connection_url(settings: Settings, endpoint: str) -> str:
    """The handshake URL: the model's, or the Foundry agent's parameters instead of `model`.

    Raises `EndpointError` (one sentence) for an endpoint that cannot be a WebSocket URL.
    """
    conn = settings.connection
    return settings.agent.url(realtime_url(endpoint, api_version=conn.api_version, model=conn.model,
                                           allow_insecure=conn.allow_insecure))


@dataclass(frozen=True)
class LocalToken:
    """The bearer token `--local` uses for a Foundry agent: the service refuses API keys for agents, and so
    does the emulator, so the app starts its emulator accepting exactly this one random token."""

    token: str

    async def get_token(self, *scopes: str) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return "LocalToken(***)"


def local_emulator(settings: Settings) -> tuple[EmulatorThread, LocalToken | None]:
    """The emulator for `--local`, and for an agent the token it accepts (the app then connects with it)."""
    from app.emulator.options import EmulatorOptions  # only `--local` needs the emulator loaded
    from app.emulator.thread import EmulatorThread

    if not settings.agent.enabled:
        return EmulatorThread(), None
    token = LocalToken("local-agent-" + secrets.token_urlsafe(16))
    return EmulatorThread(options=EmulatorOptions(bearer_token=token.token)), token
