"""The one thread that makes the PortAudio calls that can block: open, start, abort, close.

Opening a device takes tens of milliseconds and closing one joins PortAudio's callback thread, so these
calls must run neither on an event loop (the UI would stall, the microphone would gap) nor in an audio
callback (PortAudio forbids it). Running them all on one thread also serialises them: a device-queue drop
can never interleave with a close.

`submit` returns a `concurrent.futures.Future`; `run` awaits one from any event loop; `call` blocks the
calling thread (not for use on an event loop); `post` is fire-and-forget and safe from audio callbacks
(one `SimpleQueue.put`, no lock held for long, nothing allocated beyond the queue entry).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable
from typing import TypeVar

from app.audio.priority import claim_realtime, lower_to_normal

log = logging.getLogger(__name__)

T = TypeVar("T")
_Job = tuple[Callable[[], object], "concurrent.futures.Future[object] | None"]


class DeviceWorker:
    """A daemon thread running submitted calls one at a time, in order."""

    def __init__(self, name: str = "audio-device", *, realtime: bool = False) -> None:
        self._name = name
        self._realtime = realtime  # ask for real-time priority (the engine's worker: drops are on its path)
        self.realtime = False  # ... and got it
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    @property
    def on_worker(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def _ensure_running(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._ensure_running()
        self._queue.put((fn, future))  # type: ignore[arg-type]
        return future

    async def run(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the worker and await its result without blocking the calling loop."""
        return await asyncio.wrap_future(self.submit(fn))

    def call(self, fn: Callable[[], T], timeout: float = 15.0) -> T:
        """Run `fn` on the worker and wait for it (blocks this thread; runs inline on the worker itself)."""
        if self.on_worker:
            return fn()
        return self.submit(fn).result(timeout)

    def post(self, fn: Callable[[], object]) -> None:
        """Queue `fn` without waiting for it (from an audio callback: the thread is already running)."""
        if self._thread is None:
            self._ensure_running()
        self._queue.put((fn, None))

    def _run(self) -> None:
        if self._realtime:
            self.realtime = claim_realtime()
        while (job := self._queue.get()) is not None:
            fn, future = job
            if future is not None and not future.set_running_or_notify_cancel():
                continue
            # Real time is for what is posted (a queue drop, ~1 ms of echo estimate): it wakes at once. What
            # is submitted and waited for (opening a device, importing PortAudio, closing) can take hundreds
            # of milliseconds and runs at normal priority, so it never holds a core above everything else.
            lowered = self.realtime and future is not None and lower_to_normal()
            try:
                result = fn()
            except BaseException as exc:  # handed to whoever waits; a posted job's failure is logged
                if future is not None:
                    future.set_exception(exc)
                else:
                    log.exception("audio device job failed")
            else:
                if future is not None:
                    future.set_result(result)
            finally:
                if lowered:
                    self.realtime = claim_realtime()
