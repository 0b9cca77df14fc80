"""Everything the session sends leaves through one outbox, in an order that holds across reconnects.

Two lanes. Control frames (session.update, truncate, cancel, typed text) are never dropped while their
connection lives and go first. Microphone audio is a bounded lane: if the network stalls, the oldest
blocks are dropped and counted, so the capture hand-off never blocks and memory never grows.

A connection's frames belong to it. When one is lost, what it had not sent is dropped, except frames
marked `durable` (a typed message and its response request): they wait for the next connection and go
out after that connection's preamble (its `session.update` and the context replay), never before. A
truncate or cancel for the old connection's items is meaningless on the new one and is not sent.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from app.protocol.client_events import audio_append_json


@dataclass(frozen=True)
class Frame:
    text: str
    durable: bool = False  # survives a lost connection; re-sent after the next connection's preamble


class Outbox:
    def __init__(self, max_audio_blocks: int = 50) -> None:
        self._control: deque[Frame] = deque()
        self._held: list[Frame] = []
        self._audio: deque[bytes] = deque(maxlen=max_audio_blocks)
        self._ready = asyncio.Event()
        self.dropped_audio_blocks = 0
        self.dropped_stale_frames = 0
        self.accepting_audio = True
        self.connection = 0  # counts connections: a frame meant for an earlier one must not be queued later

    def put(self, text: str, *, durable: bool = False) -> None:
        self._control.append(Frame(text, durable))
        self._ready.set()

    def put_audio(self, block: bytes) -> None:
        if not self.accepting_audio:
            return
        if len(self._audio) == self._audio.maxlen:
            self.dropped_audio_blocks += 1
        self._audio.append(block)
        self._ready.set()

    def clear_audio(self) -> None:
        self._audio.clear()

    def put_after_audio(self, text: str) -> None:
        """A control frame that must follow the microphone audio queued so far (a push-to-talk commit must
        include the last blocks): those blocks move into the control lane ahead of it."""
        for block in self._audio:
            self._control.append(Frame(audio_append_json(block)))
        self._audio.clear()
        self.put(text)

    def begin_connection(self) -> None:
        """A new connection: drop what the last one did not send, but hold its durable frames back until
        the preamble (queued next, with `put`) is in; `end_preamble` then queues them after it."""
        self.connection += 1
        self._held = [frame for frame in self._control if frame.durable]
        self.dropped_stale_frames += len(self._control) - len(self._held)
        self._control.clear()
        self._audio.clear()  # speech captured while disconnected is stale now

    def end_preamble(self) -> None:
        self._control.extend(self._held)
        self._held = []
        if self._control:
            self._ready.set()

    # ------------------------------------------------------------------ the send loop's side
    async def wait(self) -> None:
        await self._ready.wait()

    def next_control(self) -> Frame | None:
        return self._control[0] if self._control else None

    def sent_control(self) -> None:
        """The frame from `next_control` went out: only now does it leave the queue."""
        self._control.popleft()
        self._idle_check()

    def take_audio(self) -> list[bytes]:
        blocks = list(self._audio)
        self._audio.clear()
        self._idle_check()
        return blocks

    def _idle_check(self) -> None:
        if not self._control and not self._audio:
            self._ready.clear()

    @property
    def queued_control(self) -> list[str]:
        return [frame.text for frame in self._control]
