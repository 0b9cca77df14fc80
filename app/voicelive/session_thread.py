"""The session on its own thread and event loop, so the microphone never waits for the UI.

Textual's layout, Markdown rendering and garbage collection can hold the UI loop for 50–120 ms; a mic
block that waits that long reaches the service late, and the service's VAD hears a gap. Here the socket,
the outbox and the playback writes run on a loop of their own. The UI reaches the session only through
this object's commands (each hops onto the session's loop with `call_soon_threadsafe`), and the session
reaches the UI only through the notices it emits (Textual's `post_message` is thread-safe).

The thread itself is started by the owner (the App runs `run_forever` in a Textual thread worker, so a
worker still owns the WebSocket session); commands given before it starts wait in the loop's queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from app.voicelive.auth import CredentialProvider
from app.voicelive.config_sync import ConfigChange, ConfigOutcome
from app.voicelive.local_speech import LocalSpeechEvent
from app.voicelive.session import AudioDevice, VoiceLiveSession

log = logging.getLogger(__name__)
T = TypeVar("T")


class SessionThread:
    def __init__(self, session: VoiceLiveSession) -> None:
        self.session = session
        self.loop = asyncio.new_event_loop()
        self._run: Future[None] | None = None

    # ------------------------------------------------------------------ the thread's side
    def run_forever(self) -> None:
        """The session thread's body: serve commands (and runs of the session) until `stop`."""
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            pending = [task for task in asyncio.all_tasks(self.loop) if not task.done()]
            for task in pending:
                task.cancel()
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    # ------------------------------------------------------------------ commands (any thread)
    def start(self, url: str, credentials: CredentialProvider) -> Future[None]:
        """Run the session (connect, serve, reconnect) on its loop; the future ends when the run does."""
        self._run = self.submit(self._run_and_close(url, credentials))
        return self._run

    async def _run_and_close(self, url: str, credentials: CredentialProvider) -> None:
        try:
            await self.session.run(url, credentials)
        finally:
            await credentials.close()

    @property
    def running(self) -> bool:
        return self._run is not None and not self._run.done()

    def call(self, method: Callable[..., Any], *args: Any) -> None:
        """Run `method(*args)` on the session's loop, soon; never blocks the caller."""
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(method, *args)

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def query(self, read: Callable[[VoiceLiveSession], T]) -> Future[T]:
        """Read the session's state on its own loop (a consistent snapshot, not a torn one)."""
        async def _read() -> T:
            return read(self.session)
        return self.submit(_read())

    def request(self, change: ConfigChange) -> Future[ConfigOutcome]:
        outcome: Future[ConfigOutcome] = Future()

        def _request() -> None:
            self.session.request(change).add_done_callback(lambda done: outcome.set_result(done.result()))
        self.call(_request)
        return outcome

    def set_muted(self, muted: bool) -> None:
        self.call(self.session.set_muted, muted)

    def send_text(self, text: str) -> None:
        self.call(self.session.send_text, text)

    def interrupt(self) -> None:
        self.call(self.session.interrupt)

    def talk_start(self) -> None:
        self.call(self.session.talk_start)

    def talk_end(self) -> None:
        self.call(self.session.talk_end)

    def reconnect(self) -> None:
        self.call(self.session.reconnect)

    def answer_approval(self, request_id: str, approve: bool) -> None:
        """The user's answer to a tool approval prompt."""
        self.call(self.session.answer_approval, request_id, approve)

    def attach_audio(self, device: AudioDevice) -> None:
        self.call(self.session.attach_audio, device)

    def detach_audio(self) -> None:
        self.call(self.session.detach_audio)

    def submit_audio(self, block: bytes) -> None:
        """For the capture callback's `call_soon_threadsafe`, which must target `self.loop` directly."""
        self.session.submit_audio(block)

    def local_speech(self, event: LocalSpeechEvent) -> None:
        """For the engine's `call_soon_threadsafe(speech_sink, event)` on `self.loop` (like `submit_audio`)."""
        self.session.local_speech(event)

    async def stop(self, timeout: float = 1.0) -> None:
        """Close the socket with 1000 (bounded), then stop the loop; the worker thread then ends.

        The loop is stopped in `finally`: a caller cancelled while waiting (an App shutting down cancels
        its quit worker) must not leave the thread running, or the interpreter waits for it at exit.
        """
        if self.loop.is_closed():
            return
        try:
            if self.running:
                await asyncio.wait_for(asyncio.wrap_future(self.submit(self.session.close())), timeout)
                if self._run is not None:
                    await asyncio.wait_for(asyncio.wrap_future(self._run), timeout)
        except Exception:  # a timeout among them
            log.warning("closing the session took too long; leaving anyway")
        finally:
            with contextlib.suppress(RuntimeError):  # closed in between: the thread has already ended
                self.loop.call_soon_threadsafe(self.loop.stop)
