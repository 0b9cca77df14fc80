"""A scripted Voice Live service for tests of configuration changes: it confirms each `session.update`
after a delay, without blocking further frames, and records when each update arrived and each answer
left — so "never more than one update in flight" is counted at the far end of a real socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.server import ServerConnection, serve


class SlowService:
    """Confirms each `session.update` after `delay_s`; refuses a threshold above `refuse_above`."""

    def __init__(self, delay_s: float = 0.15, refuse_threshold_above: float = 1.0) -> None:
        self.delay_s = delay_s
        self.refuse_above = refuse_threshold_above
        self.refusal = "threshold too high for us"  # the error's message
        self.response_status = "completed"  # the status of the response.done that answers a response.create
        self.events: list[tuple[float, str, dict[str, Any]]] = []  # (time, "in"/"out", event)
        self.port = 0
        self.created: dict[str, Any] = {}  # more fields for session.created's session (expires_at, ...)
        self.connections = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _confirm(self, ws: ServerConnection, event: dict[str, Any]) -> None:
        await asyncio.sleep(self.delay_s)
        threshold = (event["session"].get("turn_detection") or {}).get("threshold", 0.0)
        if threshold > self.refuse_above:
            reply: dict[str, Any] = {"type": "error", "error": {
                "type": "invalid_request_error", "code": "invalid_value", "message": self.refusal,
                "param": "session.turn_detection.threshold", "event_id": event.get("event_id")}}
        else:
            reply = {"type": "session.updated", "event_id": "srv", "session": event["session"]}
        self.events.append((time.monotonic(), "out", reply))
        await ws.send(json.dumps(reply))

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        session = {"id": "sess_slow", "model": "gpt-4o", **self.created}
        await ws.send(json.dumps({"type": "session.created", "session": session}))
        async for frame in ws:
            event = json.loads(frame)
            if event["type"] == "input_audio_buffer.append":
                continue
            self.events.append((time.monotonic(), "in", event))
            if event["type"] == "session.update":
                task = asyncio.create_task(self._confirm(ws, event))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            elif event["type"] == "response.create":
                await self._reply(ws)

    async def _reply(self, ws: ServerConnection) -> None:
        """A one-line text reply, ended with `response_status`."""
        self.replies = getattr(self, "replies", 0) + 1
        rid, item_id = f"resp_{self.replies}", f"item_reply_{self.replies}"
        item = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress", "content": []}
        for reply in ({"type": "response.created", "response": {"id": rid, "status": "in_progress", "output": []}},
                      {"type": "response.output_item.added", "response_id": rid, "output_index": 0, "item": item},
                      {"type": "response.text.delta", "response_id": rid, "item_id": item_id, "output_index": 0,
                       "content_index": 0, "delta": "A scripted reply."},
                      {"type": "response.done", "response": {"id": rid, "status": self.response_status,
                                                             "output": [{**item, "status": "completed"}]}}):
            await ws.send(json.dumps(reply))

    def most_in_flight(self) -> int:
        """The most updates that had arrived without a confirmation or refusal having left, at any moment."""
        in_flight = most = 0
        for _, direction, event in sorted(self.events, key=lambda e: e[0]):
            if direction == "in" and event["type"] == "session.update":
                in_flight += 1
                most = max(most, in_flight)
            elif direction == "out":
                in_flight -= 1
        return most

    def updates(self) -> list[dict[str, Any]]:
        return [e for _, d, e in self.events if d == "in" and e["type"] == "session.update"]

    def thresholds(self) -> list[float]:
        return [u["session"]["turn_detection"]["threshold"] for u in self.updates()]


@contextlib.asynccontextmanager
async def serve_slowly(service: SlowService) -> AsyncIterator[SlowService]:
    """Run `service` on a free port of 127.0.0.1 for the duration of the block."""
    async with serve(service.handler, "127.0.0.1", 0) as server:
        service.port = next(iter(server.sockets)).getsockname()[1]
        yield service
