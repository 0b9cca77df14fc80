"""Credentials for the upgrade request: an API key, or a Microsoft Entra token minted at each connect."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from app.logs import SECRETS
from app.protocol.endpoint import Credentials

log = logging.getLogger(__name__)


class AuthError(RuntimeError):
    """No usable credential; the message is one sentence saying what to do."""


class TokenCredential(Protocol):
    """The slice of `azure.identity.aio.DefaultAzureCredential` we use (tests pass a fake object)."""

    async def get_token(self, *scopes: str) -> Any: ...

    async def close(self) -> None: ...


class CredentialProvider:
    """Hands out fresh `Credentials` for each connection attempt."""

    def __init__(self, *, api_key: str | None = None, credential: TokenCredential | None = None,
                 scope: str = "https://ai.azure.com/.default") -> None:
        self._api_key = api_key
        self._credential = credential
        self._scope = scope
        self.token_expires_on: int | None = None
        SECRETS.add(api_key)

    @property
    def mode(self) -> str:
        return "key" if self._api_key else "entra"

    async def get(self) -> Credentials:
        if self._api_key:
            return Credentials(api_key=self._api_key)
        credential = self._credential
        if credential is None:
            try:
                from azure.identity.aio import DefaultAzureCredential
            except ImportError:  # pragma: no cover - azure-identity is a dependency
                raise AuthError("azure-identity is not installed; set AZURE_VOICE_LIVE_API_KEY instead.") from None
            credential = self._credential = DefaultAzureCredential()
        try:
            token = await credential.get_token(self._scope)
        except Exception as exc:
            log.info("Entra token request failed: %s", type(exc).__name__)
            raise AuthError(
                "No Microsoft Entra credential could get a token: run `az login` (and make sure your account has "
                "the Cognitive Services User role on the resource), or set AZURE_VOICE_LIVE_API_KEY."
            ) from None
        SECRETS.add(token.token)
        self.token_expires_on = int(token.expires_on)
        return Credentials(bearer_token=token.token)

    async def close(self) -> None:
        if self._credential is not None:
            try:
                await self._credential.close()
            except Exception:  # closing a credential must never stop a shutdown
                log.debug("closing the credential failed", exc_info=True)
