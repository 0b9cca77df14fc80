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

from app.audio import BYTES_PER_FRAME, SAMPLE_RATE
from app.protocol.client_events import audio_append_json

MAX_AUDIO_S = 1.0  # microphone audio the lane holds while the network stalls; older audio is dropped


@dataclass(frozen=True)
class Frame:
    text: str
    durable: bool = False  # survives a lost connection; re-sent after the next connection's preamble


class Outbox:
    def __init__(self, max_audio_s: float = MAX_AUDIO_S) -> None:
        self._control: deque[Frame] = deque()
        self._held: list[Frame] = []
        self._audio: deque[bytes] = deque()
        self._audio_bytes = 0
        self._max_audio_bytes = int(max_audio_s * SAMPLE_RATE) * BYTES_PER_FRAME  # in time: blocks are 10 or 20 ms
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
        self._audio.append(block)
        self._audio_bytes += len(block)
        while self._audio_bytes > self._max_audio_bytes:
            self._audio_bytes -= len(self._audio.popleft())
            self.dropped_audio_blocks += 1
        self._ready.set()

    def clear_audio(self) -> None:
        self._audio.clear()
        self._audio_bytes = 0

    def put_after_audio(self, text: str) -> None:
        """A control frame that must follow the microphone audio queued so far (a push-to-talk commit must
        include the last blocks): those blocks move into the control lane ahead of it."""
        for block in self._audio:
            self._control.append(Frame(audio_append_json(block)))
        self.clear_audio()
        self.put(text)

    def begin_connection(self) -> None:
        """A new connection: drop what the last one did not send, but hold its durable frames back until
        the preamble (queued next, with `put`) is in; `end_preamble` then queues them after it."""
        self.connection += 1
        self._held = [frame for frame in self._control if frame.durable]
        self.dropped_stale_frames += len(self._control) - len(self._held)
        self._control.clear()
        self.clear_audio()  # speech captured while disconnected is stale now

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
        self.clear_audio()
        self._idle_check()
        return blocks

    def _idle_check(self) -> None:
        if not self._control and not self._audio:
            self._ready.clear()

    @property
    def queued_control(self) -> list[str]:
        return [frame.text for frame in self._control]
