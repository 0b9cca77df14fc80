"""Open the WebSocket, mapping every way a handshake can fail to one plain sentence."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import uuid

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

from app.protocol.endpoint import USER_AGENT, Credentials, handshake_headers, host_of

log = logging.getLogger(__name__)
MAX_FRAME = 16 * 1024 * 1024
OPEN_TIMEOUT = 15.0


class ConnectError(RuntimeError):
    """The connection could not be opened; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class _NoRedirects(connect):
    """Redirects are refused: following one would send our credentials to another host."""

    def process_redirect(self, exc: Exception) -> Exception | str:
        return exc


def _status_sentence(status: int, host: str) -> str:
    if status == 401:
        return (f"{host} rejected the credentials (HTTP 401): check AZURE_VOICE_LIVE_API_KEY, "
                "or for Microsoft Entra ID the token scope.")
    if status == 403:
        return (f"{host} refused access (HTTP 403): the key or identity lacks a role on this resource "
                "(Cognitive Services User).")
    if status == 404:
        return f"No Voice Live endpoint at {host} (HTTP 404): check the endpoint URL and the api-version."
    if status == 429:
        return f"{host} is throttling new connections (HTTP 429); retrying after a pause."
    if status in (301, 302, 303, 307, 308):
        return (f"{host} redirected the connection elsewhere (HTTP {status}); redirects are not followed so "
                "that credentials stay with the host you chose.")
    if status == 400:
        return f"{host} rejected the request (HTTP 400): check the model name and api-version."
    return f"{host} answered HTTP {status} instead of opening a Voice Live session."


async def open_connection(url: str, credentials: Credentials) -> tuple[ClientConnection, str]:
    """Connect; return the socket and the x-ms-client-request-id used (logged for support)."""
    request_id = str(uuid.uuid4())
    host = host_of(url)
    headers = handshake_headers(credentials, request_id=request_id)
    log.info("connecting to %s (x-ms-client-request-id %s)", host, request_id)
    try:
        ws = await _NoRedirects(
            url,
            additional_headers=headers,
            user_agent_header=USER_AGENT,
            max_size=MAX_FRAME,
            open_timeout=OPEN_TIMEOUT,
            ping_interval=20,
            ping_timeout=20,
            close_timeout=2,
            proxy=None,
            compression=None,  # base64 PCM barely compresses; deflating 50 frames a second costs CPU for nothing
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        retry = exc.response.headers.get("Retry-After")
        retry_after = float(retry) if retry and retry.replace(".", "", 1).isdigit() else None
        raise ConnectError(_status_sentence(status, host), status, retry_after) from None
    except socket.gaierror:
        raise ConnectError(f"The host {host} could not be found (DNS): check the endpoint.") from None
    except ConnectionRefusedError:
        raise ConnectError(f"Nothing is listening at {host} (connection refused).") from None
    except (TimeoutError, asyncio.TimeoutError):
        raise ConnectError(f"Timed out connecting to {host}.") from None
    except ssl.SSLError as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise ConnectError(f"The TLS handshake with {host} failed ({reason}).") from None
    except InvalidURI:
        raise ConnectError(f"The endpoint URL for {host} is not valid.") from None
    except (InvalidHandshake, EOFError):
        raise ConnectError(f"{host} did not answer as a Voice Live WebSocket endpoint.") from None
    except ConnectionResetError:
        if url.startswith("wss:"):
            raise ConnectError(f"The TLS handshake with {host} failed (the connection was reset).") from None
        raise ConnectError(f"{host} reset the connection during the handshake.") from None
    except OSError as exc:
        raise ConnectError(f"Could not connect to {host} ({exc.strerror or type(exc).__name__}).") from None
    return ws, request_id
