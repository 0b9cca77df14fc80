"""The log file: private, rotated by size, still redacted; repeated warnings collapsed per category."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.logs import LogFileError, WarningLimiter, setup_logging

KEY = "rotated-key-8c1d2e3f4a5b"


@pytest.fixture
def restore_root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_the_log_rotates_by_size_keeps_a_few_private_files_and_redacts_them_all(
        tmp_path: Path, restore_root_logging: None) -> None:
    old = os.umask(0o022)
    try:
        log_path = tmp_path / "state" / "log" / "app.log"
        setup_logging(log_path, "INFO", [KEY], max_bytes=4000, backups=2)
        log = logging.getLogger("app.test")
        for n in range(400):
            log.info("line %d with the key %s and some padding to fill the file", n, KEY)
        logging.getLogger().handlers[0].flush()
    finally:
        os.umask(old)
    files = sorted(log_path.parent.iterdir())
    assert [f.name for f in files] == ["app.log", "app.log.1", "app.log.2"]
    assert all(f.stat().st_size <= 4000 for f in files)
    assert "line 399" in log_path.read_text()
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        assert KEY not in f.read_text()
    assert stat.S_IMODE(log_path.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize("where", ["/", "a directory", "under a regular file"])
def test_an_unusable_log_file_is_one_sentence(tmp_path: Path, where: str, restore_root_logging: None) -> None:
    if where == "/":
        path = Path("/")
    elif where == "a directory":
        path = tmp_path
    else:
        (tmp_path / "plain").write_text("x")
        path = tmp_path / "plain" / "app.log"
    before = list(logging.getLogger().handlers)
    with pytest.raises(LogFileError) as info:
        setup_logging(path)
    message = str(info.value)
    assert str(path) in message and message.endswith(".") and "\n" not in message
    assert logging.getLogger().handlers == before  # the old set-up is left as it was


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_warnings_are_limited_per_category_and_the_count_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    limiter = WarningLimiter(logging.getLogger("app.limited"), interval_s=30, clock=clock)
    with caplog.at_level(logging.WARNING, logger="app.limited"):
        shown = [limiter.warn("unknown event", f"type x.{n}") for n in range(2000)]
        shown += [limiter.warn("service error", "rate limited") for _ in range(3)]
        clock.now += 31
        again = limiter.warn("unknown event", "type y")
        limiter.warn("unknown event", "type z")
        flushed = limiter.flush()
    assert [s for s in shown if s] == ["unknown event: type x.0", "service error: rate limited"]
    assert again == "unknown event: type y (×2000 since the last report)"
    assert flushed == ["unknown event: ×1 more not shown", "service error: ×2 more not shown"]
    assert [r.getMessage() for r in caplog.records] == [
        "unknown event: type x.0", "service error: rate limited", again, *flushed]
    assert limiter.counts == {"unknown event": 2002, "service error": 3}
    assert limiter.flush() == []
