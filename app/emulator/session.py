"""One emulated connection: parses client events and hands each to the piece that owns it.

The pieces: `Conversation` (items), `InputAudio` (append / VAD / commit / clear), `Responses` (streaming
replies); `session.update` is handled here because it configures all of them. Events are sent through
`send(event_dict)`; everything sent and received is also recorded (bounded) so tests and benchmarks can
check what the server saw and when.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from app.emulator.conversation import Conversation, Handler, ReplyRecord, new_id
from app.emulator.input_audio import InputAudio
from app.emulator.limits import Problem, id_problem, recorded, session_problem, too_deep
from app.emulator.options import EmulatorOptions
from app.emulator.responses import Responses
from app.emulator.state import SessionUpdateError, apply_update, default_session
from app.emulator.toolbox import Toolbox
from app.emulator.vad import EnergyVad

Send = Callable[[str], Awaitable[None]]  # one serialised event to the socket
log = logging.getLogger(__name__)

__all__ = ["EmulatorSession", "ReplyRecord", "Send"]


class EmulatorSession:
    def __init__(self, send: Send, *, model: str, options: EmulatorOptions | None = None,
                 agent: dict[str, str] | None = None) -> None:
        self._send_raw = send
        self.options = options or EmulatorOptions()
        self.session = default_session(model, self.options.session_cap_s)
        self.agent = agent  # a Foundry agent named in the handshake: it answers instead of a model
        if agent is not None:
            self.session["agent"] = agent_record(agent)
        self.received: deque[dict[str, Any]] = deque(maxlen=5000)  # client events, audio and big ones elided
        self.sent: deque[tuple[float, dict[str, Any]]] = deque(maxlen=5000)  # (time, event), likewise
        self.close_code: int | None = None  # how the client closed the socket (1000 = on purpose)
        self.closed = False
        self.conversation = Conversation(self)
        self.input = InputAudio(self)
        self.responses = Responses(self)
        self.toolbox = Toolbox(self)
        self.input.configure(self.session)
        self._handlers: dict[str, Handler] = {
            "session.update": self._on_session_update,
            **self.conversation.handlers(), **self.input.handlers(), **self.responses.handlers(),
        }

    @property
    def speed(self) -> float:
        return max(self.options.speed, 0.01)

    @property
    def chunk_ms(self) -> int:
        return max(1, self.options.chunk_ms)

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
        text = json.dumps(event, separators=(",", ":"))
        logged = event
        if event["type"] == "response.audio.delta":
            logged = {**event, "delta": f"<{len(event['delta'])} b64 chars>"}
        self.sent.append((time.monotonic(), recorded(logged, len(text))))
        await self._send_raw(text)

    async def error(self, message: str, *, code: str = "invalid_value", param: str | None = None,
                    event_id: str | None = None, kind: str = "invalid_request_error") -> None:
        """The service's error event: every field present, `param` and `event_id` null when they do not apply."""
        await self.send({"type": "error", "error": {"type": kind, "code": code, "message": message, "param": param,
                                                    "event_id": event_id}})

    async def refuse(self, problem: Problem, event: dict[str, Any]) -> None:
        event_id = event.get("event_id")
        await self.error(problem.message, code=problem.code, param=problem.param,
                         event_id=event_id if isinstance(event_id, str) and len(event_id) <= 256 else None)

    async def start(self) -> None:
        await self.send({"type": "session.created", "session": self.session})

    async def close(self) -> None:
        await self.responses.close()
        await self.toolbox.close()

    def release(self) -> None:
        """Drop everything this closed session holds now, rather than when the cycle collector runs."""
        self.conversation.clear()
        self.input.audio = bytearray()
        self.input.arrivals.clear()
        self.received.clear()
        self.sent.clear()

    # ------------------------------------------------------------------ receiving
    async def handle(self, frame: str | bytes) -> None:
        """One client frame. Whatever it holds, the answer is at most an `error` event: never a dead connection."""
        try:
            event = json.loads(frame)
        except (ValueError, RecursionError):
            await self.error("the message is not valid JSON", code="invalid_json")
            return
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            await self.error("the message has no type", code="invalid_event")
            return
        if too_deep(event):
            await self.error("the message nests objects or arrays too deeply", code="invalid_event")
            return
        kind = event["type"]
        self.received.append(recorded(event, len(frame)))
        problem = id_problem(event)
        if problem is not None:
            await self.refuse(problem, event)
            return
        handler = self._handlers.get(kind)
        if handler is None:
            await self.error(f"unknown event type '{kind[:100]}'", code="unknown_event",
                             event_id=event.get("event_id"))
            return
        try:
            await handler(event)
        except Exception:
            log.exception("the emulator failed to handle a %s event", kind)
            await self.error(f"the server could not process this {kind} event", code="server_error",
                             kind="server_error", event_id=event.get("event_id"))

    async def _on_session_update(self, event: dict[str, Any]) -> None:
        problem = session_problem(event.get("session"))
        if problem is not None:
            await self.refuse(problem, event)
            return
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
        self.input.configure(self.session)
        await self.send({"type": "session.updated", "session": self.session})
        self.toolbox.configured()


def agent_record(agent: dict[str, str]) -> dict[str, str]:
    """`session.agent` as the service reports it (`AgentConfig`: name, description, agent_id, thread_id)."""
    return {"type": "agent", "name": agent["name"],
            "description": f"The emulator playing the Foundry agent {agent['name']} of {agent['project']}",
            "agent_id": f"{agent['name']}:{agent.get('version') or '1'}",
            "thread_id": agent.get("conversation_id") or new_id("thread")}
