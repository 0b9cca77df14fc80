"""Secrets never reach the log: a whole session at DEBUG with a known key, then grep the file."""

from __future__ import annotations

import logging
from pathlib import Path

from app.emulator.server import EmulatorServer
from app.logs import SECRETS, RedactingFilter, SecretRegistry, setup_logging
from app.voicelive import notices as nt
from tests.helpers import wait_for
from tests.session_harness import SessionHarness

KEY = "vl-key-5f0c2a9e7b1d4c3e8a6f"


def test_patterns_are_masked_even_when_never_registered() -> None:
    registry = SecretRegistry()
    for line in ["> api-key: abcdef123456", "GET /x?api-key=abcdef123456&model=m",
                 "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc.def", "Authorization=Bearer%20eyJhbGciOiJIUzI1NiJ9"]:
        assert "abcdef123456" not in registry.redact(line) and "eyJhbGci" not in registry.redact(line)


def test_registered_secrets_are_masked_in_args_and_exceptions(tmp_path: Path) -> None:
    registry = SecretRegistry()
    registry.add("s3cr3t-value")
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "value %s", ("s3cr3t-value",), None)
    try:
        raise ValueError("boom s3cr3t-value")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    RedactingFilter(registry).filter(record)
    assert "s3cr3t-value" not in record.getMessage() and "s3cr3t-value" not in (record.exc_text or "")


async def test_a_debug_session_never_logs_the_key(tmp_path: Path) -> None:
    log_path = tmp_path / "logs" / "app.log"
    handler = setup_logging(log_path, "DEBUG", [KEY])
    try:
        async with EmulatorServer(api_key=KEY) as server:
            async with SessionHarness(server) as h:
                h.session.send_text("hello")
                await wait_for(lambda: h.of(nt.AssistantTurnEnded), timeout=15)
            async with SessionHarness(server, api_key=KEY + "-wrong") as bad:
                await wait_for(bad.failed, timeout=5)
    finally:
        handler.flush()
        logging.getLogger().removeHandler(handler)
        handler.close()
    text = log_path.read_text()
    assert "api-key: ***" in text  # websockets' DEBUG handshake lines were there, masked
    assert "session.update" in text  # and so were the frames
    assert KEY not in text and KEY[:12] not in text
    assert KEY in {s for s in SECRETS._secrets}
