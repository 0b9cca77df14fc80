"""The JSONL transcript, appended by a background thread so an fsync never stalls an event loop.

`submit()` only puts a record on a queue; one daemon thread appends it and fsyncs, so a crash loses at most
the turn in flight. A write that fails (disk full, directory gone) is logged once as one sentence and the
record is kept: the next record, or `close()`, tries again, oldest first. `close()` drains with a bounded
wait; an `atexit` hook does the same for writers nobody closed, so a normal exit loses nothing.
"""

from __future__ import annotations

import atexit
import errno
import json
import logging
import os
import queue
import threading
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from app.files import describe_os_error, open_private_append

log = logging.getLogger(__name__)

_STOP = object()
_live: weakref.WeakSet[TranscriptWriter] = weakref.WeakSet()


class TranscriptWriter:
    """Appends one JSON object per line to `path`, off the caller's thread."""

    def __init__(self, path: Path, *, on_error: Callable[[str], None] | None = None) -> None:
        """`on_error(sentence)` is called on the writer thread when writing starts to fail (once per streak),
        so the UI can show what the log says; it must be thread-safe (Textual's post_message is)."""
        self.path = path
        self._on_error = on_error
        self._queue: queue.Queue[object] = queue.Queue()
        self._unwritten: list[str] = []  # the writer thread's own: lines that failed, oldest first
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._failing = False
        self._idle = threading.Event()
        self._idle.set()

    # ------------------------------------------------------------------ any thread
    def submit(self, record: Mapping[str, Any]) -> None:
        """Queue one record; never blocks and never raises for a disk problem."""
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="transcript-writer", daemon=True)
                self._thread.start()
                _live.add(self)
            self._idle.clear()
            self._queue.put(line)

    @property
    def pending(self) -> int:
        """Records not on disk yet: queued, or kept after a failed write."""
        return self._queue.qsize() + len(self._unwritten)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until everything submitted so far has been tried; True if it got there in time."""
        return self._idle.wait(timeout)

    def close(self, timeout: float = 2.0) -> bool:
        """Write what is queued (one more try for failed records) and stop; True if nothing was left behind."""
        with self._lock:
            thread = self._thread
            if thread is None:
                return True
            self._queue.put(_STOP)
        thread.join(timeout)
        left = not thread.is_alive() and not self._unwritten and self._queue.empty()
        if not thread.is_alive():
            with self._lock:
                self._thread = None  # a record submitted after close starts a new thread
            _live.discard(self)
        if thread.is_alive():
            log.warning("The transcript writer did not finish within %.1f s; %d record(s) may be missing from %s.",
                        timeout, self.pending, self.path)
        elif self._unwritten:
            log.warning("%d record(s) could not be written to the transcript %s.", len(self._unwritten), self.path)
        return left

    # ------------------------------------------------------------------ the writer thread
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            stop = item is _STOP
            if not stop:
                self._unwritten.append(str(item))
            while not stop and not self._queue.empty():  # batch what queued up meanwhile: one fsync for all
                more = self._queue.get()
                if more is _STOP:
                    stop = True
                else:
                    self._unwritten.append(str(more))
            if self._unwritten:
                self._write_unwritten()
            if self._queue.empty():
                self._idle.set()
            if stop:
                return

    def _write_unwritten(self) -> None:
        data = "".join(self._unwritten).encode("utf-8")
        try:
            fd = open_private_append(self.path)
            try:
                size = os.fstat(fd).st_size
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                    _sync(fd)
                except OSError:
                    os.ftruncate(fd, size)  # no half line left behind: the retry writes the records whole
                    raise
            finally:
                os.close(fd)
        except OSError as exc:
            sentence = f"Could not write the transcript {self.path}: {describe_os_error(exc)}; will retry."
            if not self._failing:  # one line per failure streak, not one per turn
                log.warning("%s", sentence)
                if self._on_error is not None:
                    self._on_error(sentence)
            self._failing = True
            return
        self._unwritten.clear()
        if self._failing:
            log.info("The transcript %s is being written again.", self.path)
        self._failing = False


def _sync(fd: int) -> None:
    """fsync, except on things that cannot sync (a pipe, /dev/null), where the write itself is all there is."""
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EROFS, errno.ENOTSUP):
            raise


@atexit.register
def _drain_at_exit() -> None:
    """Writers nobody closed still get their queued records to disk at a normal interpreter exit."""
    for writer in list(_live):
        writer.close(timeout=2.0)
