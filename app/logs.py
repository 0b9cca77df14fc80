"""File logging with secret redaction applied to every record of every logger.

The filter sits on the handler, not on a logger, so records from websockets' own DEBUG output (frames,
handshake headers) and from azure-identity pass through it too. Known secrets (the API key, each bearer
token as it is minted) are registered at run time and replaced wherever they appear; well-known shapes
(`api-key: …`, `Bearer …`, `api-key=…`) are masked even when the value was never registered.

The file is private (0600, see app/files.py) and rotates by size, so a misbehaving server cannot fill the
disk through it; `WarningLimiter` keeps repeated warnings of one category to a line now and then with a
count of what it held back.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.files import create_private, describe_os_error

MASK = "***"
LOG_MAX_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 3
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


class LogFileError(Exception):
    """The log file cannot be opened; the message is one sentence for the user."""


def _rotate_privately(source: str, dest: str) -> None:
    """Rotation renames the full file away; the fresh one is created 0600 before logging reopens it."""
    if os.path.exists(source):
        os.replace(source, dest)
    create_private(Path(source))


def _open_handler(path: Path, max_bytes: int, backups: int) -> logging.handlers.RotatingFileHandler:
    if path.is_dir():
        raise LogFileError(f"The log file {path} is a directory; give a file name (--log-file PATH).")
    try:
        create_private(path)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups,
                                                       encoding="utf-8")
    except OSError as exc:
        raise LogFileError(f"Cannot write the log file {path}: {describe_os_error(exc)}.") from None
    handler.rotator = _rotate_privately
    return handler


def setup_logging(path: Path, level: str = "INFO", secrets: list[str] | None = None, *,
                  max_bytes: int = LOG_MAX_BYTES, backups: int = LOG_BACKUPS) -> logging.Handler:
    """Send every logger to `path` (rotated at `max_bytes`, `backups` old files kept) through the redaction
    filter; nothing goes to the terminal. Raises `LogFileError` (one sentence) if the file cannot be opened."""
    for secret in secrets or []:
        SECRETS.add(secret)
    handler = _open_handler(path, max_bytes, backups)
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


@dataclass
class _Category:
    last_shown: float
    held_back: int = 0
    total: int = 0


class WarningLimiter:
    """Rate-limits warnings per category ("unknown event", "protocol error", "service error").

    The first warning of a category is logged at once; later ones within `interval_s` are counted, not
    logged. The next one after the interval is logged with the count it stands for ("×N"), and `flush()`
    reports what is still held back (call it at close, or periodically). `warn()` returns the line it
    logged, or None when it held the warning back, so a caller can show exactly the same collapsed line.
    """

    def __init__(self, logger: logging.Logger, *, interval_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._interval = interval_s
        self._clock = clock
        self._categories: dict[str, _Category] = {}
        self._lock = threading.Lock()

    def warn(self, category: str, detail: str) -> str | None:
        now = self._clock()
        with self._lock:
            state = self._categories.get(category)
            if state is None:
                self._categories[category] = _Category(last_shown=now, total=1)
                line = f"{category}: {detail}"
            else:
                state.total += 1
                if now - state.last_shown < self._interval:
                    state.held_back += 1
                    return None
                line = f"{category}: {detail} (×{state.held_back + 1} since the last report)"
                state.last_shown, state.held_back = now, 0
        self._logger.warning("%s", line)
        return line

    def flush(self) -> list[str]:
        """Log (and return) one line per category with warnings held back since its last report."""
        lines: list[str] = []
        with self._lock:
            for category, state in self._categories.items():
                if state.held_back:
                    lines.append(f"{category}: ×{state.held_back} more not shown")
                    state.held_back, state.last_shown = 0, self._clock()
        for line in lines:
            self._logger.warning("%s", line)
        return lines

    @property
    def counts(self) -> dict[str, int]:
        """Every warning seen, per category, shown or not."""
        with self._lock:
            return {category: state.total for category, state in self._categories.items()}
