"""Native libraries' stderr (ALSA's "underrun occurred", PortAudio's notes) goes to the log, not the screen.

ALSA and PortAudio print straight to file descriptor 2 from C, across the middle of the full-screen UI,
and Textual itself draws on `sys.__stderr__` (and prints its exit message on `sys.stderr`). While the app
runs, both point at a descriptor of their own on the terminal, and descriptor 2 becomes a pipe whose lines
a daemon thread writes to the log (through the redacting handler). Afterwards everything is put back.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import threading
from collections.abc import Iterator

log = logging.getLogger("native")


def _forward(read_fd: int) -> None:
    with os.fdopen(read_fd, "rb") as pipe:
        for raw in pipe:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                log.warning("%s", line)


def _set_dunder_stderr(stream: io.TextIOWrapper | object) -> None:
    """Typeshed calls `sys.__stderr__` final; it is an ordinary attribute, and Textual's driver reads it."""
    setattr(sys, "__stderr__", stream)  # noqa: B010


@contextlib.contextmanager
def native_stderr_to_log() -> Iterator[None]:
    """Send whatever C code writes to fd 2 into the log for the duration; Textual keeps the terminal."""
    original, python_stderr = sys.__stderr__, sys.stderr
    if original is None:
        yield
        return
    try:
        saved_fd = os.dup(2)
        read_fd, write_fd = os.pipe()
    except OSError:  # no descriptors to spare: leave things as they are
        yield
        return
    terminal = io.TextIOWrapper(io.FileIO(os.dup(saved_fd), "w"), encoding=original.encoding,
                                errors="backslashreplace", line_buffering=True)
    original.flush()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    _set_dunder_stderr(terminal)
    sys.stderr = terminal
    reader = threading.Thread(target=_forward, args=(read_fd,), name="native-stderr", daemon=True)
    reader.start()
    try:
        yield
    finally:
        terminal.flush()
        _set_dunder_stderr(original)
        sys.stderr = python_stderr
        os.dup2(saved_fd, 2)  # closes the pipe's last writer: the reader sees the end and stops
        os.close(saved_fd)
        reader.join(timeout=1.0)
        terminal.close()
