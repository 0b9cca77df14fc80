"""One emulated connection: parses client events and hands each to the piece that owns it.

The pieces: `Conversation` (items), `InputAudio` (append / VAD / commit / clear), `Responses` (streaming
replies); `session.update` is handled here because it configures all of them. Events are sent through
`send(event_dict)`; everything sent and received is also recorded (bounded) so tests and benchmarks can
check what the server saw and when.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from app.emulator.conversation import Conversation, Handler, ReplyRecord, new_id
from app.emulator.input_audio import InputAudio
from app.emulator.responses import Responses
from app.emulator.state import SessionUpdateError, apply_update, default_session
from app.emulator.toolbox import Toolbox
from app.emulator.vad import EnergyVad

Send = Callable[[dict[str, Any]], Awaitable[None]]

__all__ = ["EmulatorSession", "ReplyRecord", "Send"]


class EmulatorSession:
    def __init__(self, send: Send, *, model: str, speed: float, chunk_ms: int, session_cap_s: float,
                 agent: dict[str, str] | None = None) -> None:
        self._send_raw = send
        self.session = default_session(model, session_cap_s)
        self.agent = agent  # a Foundry agent named in the handshake: it answers instead of a model
        if agent is not None:
            self.session["agent"] = agent_record(agent)
        self.speed = max(speed, 0.01)
        self.chunk_ms = chunk_ms
        self.received: deque[dict[str, Any]] = deque(maxlen=5000)  # client events, audio elided
        self.sent: deque[tuple[float, dict[str, Any]]] = deque(maxlen=5000)  # (time, event), audio elided
        self.close_code: int | None = None  # how the client closed the socket (1000 = on purpose)
        self.conversation = Conversation(self)
        self.input = InputAudio(self)
        self.responses = Responses(self)
        self.toolbox = Toolbox(self)
        self.input.configure(self.session["turn_detection"])
        self._handlers: dict[str, Handler] = {
            "session.update": self._on_session_update,
            **self.conversation.handlers(), **self.input.handlers(), **self.responses.handlers(),
        }

    # ------------------------------------------------------------------ what tests and benchmarks read
    @property
    def items(self) -> dict[str, dict[str, Any]]:
        return self.conversation.items

    @property
    def replies(self) -> dict[str, ReplyRecord]:
        return self.conversation.replies

    @property
    def vad(self) -> EnergyVad:
        return self.input.vad

    @property
    def input_audio(self) -> bytearray:
        return self.input.audio

    @property
    def input_offset(self) -> int:
        return self.input.offset

    @property
    def input_arrivals(self) -> deque[tuple[float, int]]:
        return self.input.arrivals

    @property
    def speech_started_at(self) -> list[float]:
        return self.input.speech_started_at

    def input_slice(self, start_ms: int, end_ms: int) -> npt.NDArray[np.int16]:
        return self.input.slice(start_ms, end_ms)

    # ------------------------------------------------------------------ sending
    async def send(self, event: dict[str, Any]) -> None:
        event.setdefault("event_id", new_id("event"))
        logged = event
        if event["type"] == "response.audio.delta":
            logged = {**event, "delta": f"<{len(event['delta'])} b64 chars>"}
        self.sent.append((time.monotonic(), logged))
        await self._send_raw(event)

    async def error(self, message: str, *, code: str = "invalid_value", param: str | None = None,
                    event_id: str | None = None, kind: str = "invalid_request_error") -> None:
        err: dict[str, Any] = {"type": kind, "code": code, "message": message}
        if param:
            err["param"] = param
        if event_id:
            err["event_id"] = event_id
        await self.send({"type": "error", "error": err})

    async def start(self) -> None:
        await self.send({"type": "session.created", "session": self.session})

    async def close(self) -> None:
        await self.responses.close()
        await self.toolbox.close()

    # ------------------------------------------------------------------ receiving
    async def handle(self, frame: str | bytes) -> None:
        try:
            event = json.loads(frame)
        except ValueError:
            await self.error("the message is not valid JSON", code="invalid_json")
            return
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            await self.error("the message has no type", code="invalid_event")
            return
        kind = event["type"]
        self.received.append({**event, "audio": "<elided>"} if "audio" in event else event)
        handler = self._handlers.get(kind)
        if handler is None:
            await self.error(f"unknown event type '{kind}'", code="unknown_event", event_id=event.get("event_id"))
            return
        await handler(event)

    async def _on_session_update(self, event: dict[str, Any]) -> None:
        update = event.get("session")
        if self.agent is not None and isinstance(update, dict) and update.get("instructions"):
            await self.error("instructions are not supported when connected to an agent (the agent has its own)",
                             param="session.instructions", event_id=event.get("event_id"))
            return
        try:
            merged = apply_update(self.session, event.get("session"))
        except SessionUpdateError as exc:
            await self.error(str(exc), param=exc.param, event_id=event.get("event_id"))
            return
        if self.replies and merged.get("voice") != self.session.get("voice"):
            # The service refuses to change the voice once it has spoken (PROTOCOL.md §12).
            await self.error("the voice cannot be changed after audio has been produced", param="session.voice",
                             event_id=event.get("event_id"))
            return
        self.session = merged
        self.input.configure(self.session.get("turn_detection"))
        await self.send({"type": "session.updated", "session": self.session})
        self.toolbox.configured()


def agent_record(agent: dict[str, str]) -> dict[str, str]:
    """`session.agent` as the service reports it (`AgentConfig`: name, description, agent_id, thread_id)."""
    return {"type": "agent", "name": agent["name"],
            "description": f"The emulator playing the Foundry agent {agent['name']} of {agent['project']}",
            "agent_id": f"{agent['name']}:{agent.get('version') or '1'}",
            "thread_id": agent.get("conversation_id") or new_id("thread")}
