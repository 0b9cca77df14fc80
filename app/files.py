"""Private files: every file the app writes (transcripts, logs, exports, config) goes through here.

Conversations and keys are personal, so directories the app creates are 0700 and files 0600, whatever the
umask. Whole-file writes are atomic (a temp file in the same directory, fsync, rename), so a crash leaves
either the old file or the new one. A failed write becomes `WriteError`: one sentence the UI can show.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


class WriteError(Exception):
    """A file could not be written; the message is one sentence for the user (no traceback needed)."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


def describe_os_error(exc: OSError) -> str:
    """The reason part of a sentence: 'permission denied', 'not a directory', 'no space left on device'."""
    reason = exc.strerror or type(exc).__name__
    return reason[:1].lower() + reason[1:]


def ensure_private_dir(path: Path) -> Path:
    """Create `path` and any missing parents as 0700; directories that already exist are left as they are."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:  # created meanwhile by someone else: fine if it is a directory
            if not directory.is_dir():
                raise
            continue
        os.chmod(directory, PRIVATE_DIR_MODE)  # mkdir's mode passes through the umask
    if not path.is_dir():
        raise NotADirectoryError(20, "Not a directory", str(path))
    return path


def _tighten(fd: int) -> None:
    """Make an open regular file 0600 (a log or transcript left 0644 by an older version); never a device."""
    info = os.fstat(fd)
    if stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) != PRIVATE_FILE_MODE:
        os.fchmod(fd, PRIVATE_FILE_MODE)


def open_private_append(path: Path) -> int:
    """Open (creating 0600, in 0700 directories) a file for appending; returns the OS-level descriptor."""
    ensure_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        _tighten(fd)
    except OSError:
        os.close(fd)
        raise
    return fd


def create_private(path: Path) -> None:
    """Make sure `path` exists as a 0600 file (for writers that open the file themselves, like logging)."""
    os.close(open_private_append(path))


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Replace `path` with `data` (UTF-8 for text) atomically, as a 0600 file; raises `OSError` on failure."""
    ensure_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)  # mkstemp: 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_private(path: Path, data: str | bytes, *, what: str) -> Path:
    """`write_atomic`, with any failure turned into `WriteError`: "Could not save the export to X: …"."""
    try:
        return write_atomic(path, data)
    except OSError as exc:
        raise WriteError(f"Could not save {what} to {path}: {describe_os_error(exc)}.", path) from None
