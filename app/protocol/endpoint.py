"""Turn a resource endpoint into the realtime WebSocket URL and the handshake headers.

The service accepts the bare resource URL with `/voice-live/realtime` appended; any path already on the
endpoint is kept (the official SDK does the same), so a proxy mounted under a prefix still works.

Credentials travel in the upgrade request, so a plain-text scheme (http://, ws://) is accepted only for a
loopback host (the local emulator) unless the caller explicitly allows it: a stray `.env` must not be able
to send the key to another machine unencrypted. Anything malformed is an `EndpointError` with one sentence.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from app import APP_NAME, __version__

REALTIME_PATH = "/voice-live/realtime"
ENTRA_SCOPE = "https://ai.azure.com/.default"
USER_AGENT = f"{APP_NAME}/{__version__}"

_SCHEMES = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}
_PLAIN = {"http", "ws"}
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
_PORT = re.compile(r":(\d+)$")
_EXAMPLE = "it should look like https://<resource>.services.ai.azure.com/"


class EndpointError(ValueError):
    """The endpoint cannot be turned into a WebSocket URL; the message is one sentence for the user."""


def _split(text: str) -> SplitResult:
    try:
        parts = urlsplit(text)
    except ValueError:  # an unclosed [ for an IPv6 address, for one
        raise EndpointError(f"The endpoint {text!r} is not a valid URL; {_EXAMPLE}.") from None
    digits = _PORT.search(parts.netloc)
    try:
        port = int(digits.group(1)) if digits else parts.port  # .port parses lazily and rejects > 65535 itself
    except ValueError:
        raise EndpointError(f"The endpoint {text!r} has a port that is not a number.") from None
    if port is not None and not 1 <= port <= 65535:
        raise EndpointError(f"The endpoint's port {port} is outside 1–65535.")
    return parts


def _check_host(host: str, text: str) -> None:
    if not host:
        raise EndpointError(f"The endpoint {text!r} has no host; {_EXAMPLE}.")
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    name = host[:-1] if host.endswith(".") else host
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_name = ""
    if not ascii_name or len(ascii_name) > 253 or not all(_LABEL.fullmatch(p) for p in ascii_name.split(".")):
        raise EndpointError(f"The endpoint's host {host!r} is not a valid host name.")


def is_loopback(host: str) -> bool:
    """True for this machine only: localhost (and *.localhost), 127.0.0.0/8, ::1."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def realtime_url(endpoint: str, *, api_version: str, model: str, allow_insecure: bool = False) -> str:
    """Build `wss://host[/prefix]/voice-live/realtime?api-version=…&model=…` from a resource endpoint.

    Raises `EndpointError` (one sentence) for anything that is not a usable URL, and for http:// or ws://
    to a host other than this machine unless `allow_insecure`.
    """
    text = endpoint.strip()
    if not text:
        raise EndpointError("The endpoint is empty; set AZURE_VOICE_LIVE_ENDPOINT or pass --endpoint.")
    parts = _split(text)
    if not parts.scheme or not parts.netloc:
        raise EndpointError(f"The endpoint {text!r} has no scheme or host; {_EXAMPLE}.")
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise EndpointError(
            f"The endpoint scheme {parts.scheme!r} is not supported; use https:// (or http:// locally)."
        )
    host = parts.hostname or ""
    _check_host(host, text)
    if parts.scheme.lower() in _PLAIN and not allow_insecure and not is_loopback(host):
        raise EndpointError(
            f"The endpoint {host_of(text)} uses unencrypted {parts.scheme.lower()}://, which would send your "
            "credentials in clear text; use https://, or pass --allow-insecure if you really mean it."
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
