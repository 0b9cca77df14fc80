"""File logging with secret redaction applied to every record of every logger.

The filter sits on the handler, not on a logger, so records from websockets' own DEBUG output (frames,
handshake headers) and from azure-identity pass through it too. Known secrets (the API key, each bearer
token as it is minted) are registered at run time and replaced wherever they appear; well-known shapes
(`api-key: …`, `Bearer …`, `api-key=…`) are masked even when the value was never registered.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

MASK = "***"
_PATTERNS = (
    re.compile(r"(?i)(api-key['\"]?\s*[:=]\s*['\"]?)([^\s'\",&;)]+)"),
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?bearer\s+)([^\s'\",&;)]+)"),
    re.compile(r"(?i)(bearer(?:%20|\s)+)([A-Za-z0-9\-_.~+/=]{8,})"),
)


class SecretRegistry:
    """The set of literal secrets to mask; thread-safe because tokens are added from the loop."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4:
            with self._lock:
                self._secrets.add(secret)

    def redact(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + MASK, text)
        return text


SECRETS = SecretRegistry()


class RedactingFilter(logging.Filter):
    """Formats the record's message, redacts it, and freezes the result so nothing re-expands it."""

    def __init__(self, registry: SecretRegistry = SECRETS) -> None:
        super().__init__()
        self.registry = registry

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = self.registry.redact(message)
        record.args = None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.registry.redact(text)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.registry.redact(record.stack_info)
        return True


class RedactingFormatter(logging.Formatter):
    """Belt and braces: redact the final line too (covers exc_text set by other handlers)."""

    def __init__(self, fmt: str, registry: SecretRegistry = SECRETS) -> None:
        super().__init__(fmt)
        self.registry = registry

    def format(self, record: logging.LogRecord) -> str:
        return self.registry.redact(super().format(record))


def setup_logging(path: Path, level: str = "INFO", secrets: list[str] | None = None) -> logging.Handler:
    """Send every logger to `path` through the redaction filter; nothing goes to the terminal."""
    for secret in secrets or []:
        SECRETS.add(secret)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.addFilter(RedactingFilter())
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    # websockets logs every frame at DEBUG; keep it only when the user asked for DEBUG.
    logging.getLogger("websockets").setLevel(root.level)
    for noisy in ("markdown_it", "asyncio"):  # parser traces and selector chatter say nothing about us
        logging.getLogger(noisy).setLevel(max(root.level, logging.INFO))
    logging.captureWarnings(True)
    return handler


class OncePerKind:
    """Rate-limits repeated warnings (malformed frames, unknown events) to one line per kind."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._counts: dict[str, int] = {}

    def warn(self, kind: str, detail: str) -> bool:
        count = self._counts.get(kind, 0) + 1
        self._counts[kind] = count
        if count == 1:
            self._logger.warning("%s (%s); further ones are counted, not logged", kind, detail)
            return True
        return False

    @property
    def counts(self) -> dict[str, int]:
        return dict(self._counts)
