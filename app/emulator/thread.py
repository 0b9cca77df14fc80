"""The emulator on its own thread and event loop, for `--local`.

In-process it would run its VAD, base64 and JSON on the UI's loop, in the very frames where Textual lays
out the reply it is sending; on a thread of its own the app's loops only see a socket, as with Azure.
"""

from __future__ import annotations

import asyncio
import threading

from app.emulator.server import EmulatorOptions, EmulatorServer


class EmulatorThread:
    def __init__(self, *, options: EmulatorOptions | None = None, api_key: str | None = None) -> None:
        self.server = EmulatorServer(options=options, api_key=api_key)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def api_key(self) -> str:
        return self.server.api_key

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    async def start(self) -> EmulatorThread:
        """Start the thread and wait (without blocking the caller's loop) until the server listens."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            loop = self._loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(self.server.start())
            except BaseException as exc:  # reported to the starter, who raises it on its own thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.server.stop())
                loop.close()

        self._thread = threading.Thread(target=main, name="voicelive-emulator", daemon=True)
        self._thread.start()
        await asyncio.to_thread(ready.wait)
        if failure:
            raise failure[0]
        return self

    async def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join, 2.0)
