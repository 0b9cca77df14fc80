"""Turn a resource endpoint into the realtime WebSocket URL and the handshake headers.

The service accepts the bare resource URL with `/voice-live/realtime` appended; any path already on the
endpoint is kept (the official SDK does the same), so a proxy mounted under a prefix still works.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from app import APP_NAME, __version__

REALTIME_PATH = "/voice-live/realtime"
ENTRA_SCOPE = "https://ai.azure.com/.default"
LEGACY_ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"
USER_AGENT = f"{APP_NAME}/{__version__}"

_SCHEMES = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}


class EndpointError(ValueError):
    """The endpoint cannot be turned into a WebSocket URL; the message is one sentence for the user."""


def realtime_url(endpoint: str, *, api_version: str, model: str) -> str:
    """Build `wss://host[/prefix]/voice-live/realtime?api-version=…&model=…` from a resource endpoint."""
    text = endpoint.strip()
    if not text:
        raise EndpointError("The endpoint is empty; set AZURE_VOICE_LIVE_ENDPOINT or pass --endpoint.")
    parts = urlsplit(text)
    if not parts.scheme or not parts.netloc:
        raise EndpointError(
            f"The endpoint {text!r} has no scheme or host; it should look like https://<resource>.services.ai.azure.com/."
        )
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise EndpointError(
            f"The endpoint scheme {parts.scheme!r} is not supported; use https:// (or http:// locally)."
        )
    path = parts.path.rstrip("/")
    if not path.endswith(REALTIME_PATH):
        path += REALTIME_PATH
    query = {"api-version": api_version, "model": model}
    for key, value in parse_qsl(parts.query):
        query.setdefault(key, value)
    return urlunsplit((scheme, parts.netloc, path, urlencode(query), ""))


def with_agent(url: str, *, name: str, project: str, version: str | None = None,
               conversation_id: str | None = None) -> str:
    """The realtime URL for a Foundry agent: the agent's query parameters replace `model` (the service uses
    the agent's own model), in the order the official SDK sends them."""
    parts = urlsplit(url)
    query = {k: v for k, v in parse_qsl(parts.query) if k != "model"}
    agent = {"agent-name": name, "agent-project-name": project, "agent-version": version,
             "conversation-id": conversation_id}
    query.update({k: v for k, v in agent.items() if v})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def host_of(url: str) -> str:
    """The host (and port) part of a URL: what the status bar shows instead of the whole endpoint."""
    return urlsplit(url).netloc.rpartition("@")[2]


@dataclass(frozen=True)
class Credentials:
    """What goes into the upgrade request: exactly one of an API key or a bearer token."""

    api_key: str | None = None
    bearer_token: str | None = None

    def __repr__(self) -> str:  # never let a secret reach a log through repr()
        kind = "api_key" if self.api_key else "bearer_token" if self.bearer_token else "none"
        return f"Credentials({kind}=***)"


def handshake_headers(credentials: Credentials, *, request_id: str | None = None) -> dict[str, str]:
    """Headers for the WebSocket upgrade: auth, a per-connection request id for support, and our User-Agent."""
    headers: dict[str, str] = {"x-ms-client-request-id": request_id or str(uuid.uuid4())}
    if credentials.api_key:
        headers["api-key"] = credentials.api_key
    elif credentials.bearer_token:
        headers["Authorization"] = f"Bearer {credentials.bearer_token}"
    return headers
