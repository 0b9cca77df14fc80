"""Responses: at most one at a time, each a task that streams its outputs and always ends in `response.done`.

`decide()` is the one place where a response chooses what it will output (today: one assistant message).
Each output is an object with `item`, `words`, `stream()` and `finish(status)`; a new kind of output (a
function call, an MCP call) is a new such class, chosen in `decide()`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

from websockets.exceptions import ConnectionClosed

from app.emulator.conversation import Handler, new_id
from app.emulator.message_output import MessageOutput

if TYPE_CHECKING:
    from app.emulator.session import EmulatorSession

log = logging.getLogger(__name__)


class Output(Protocol):
    """One output item of a response."""

    item: dict[str, Any]
    added: bool  # the client has seen its response.output_item.added

    @property
    def words(self) -> int: ...

    async def stream(self) -> None: ...

    async def finish(self, status: str) -> None: ...


class Responses:
    def __init__(self, host: EmulatorSession) -> None:
        self.host = host
        self._task: asyncio.Task[None] | None = None
        self._response_id: str | None = None
        self._cancel_reason = "client"

    @property
    def active(self) -> bool:
        return self._task is not None

    def handlers(self) -> dict[str, Handler]:
        return {"response.create": self._on_create, "response.cancel": self._on_cancel}

    async def _on_create(self, event: dict[str, Any]) -> None:
        if self._task is not None:
            await self.cancel("client_cancelled")
        self.start()

    async def _on_cancel(self, event: dict[str, Any]) -> None:
        if self._task is None:
            await self.host.error("there is no active response to cancel", code="response_cancel_not_active",
                                  event_id=event.get("event_id"))
            return
        await self.cancel("client_cancelled")

    def start(self) -> None:
        self._response_id = new_id("resp")
        self._task = asyncio.create_task(self._run(self._response_id), name="emulator-response")

    async def cancel(self, reason: str) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._cancel_reason = reason
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def decide(self, response_id: str) -> list[Output]:
        """What this response will output, in order. The extension point for new kinds of output."""
        return self.host.toolbox.outputs_for(response_id) or [MessageOutput(self.host, response_id, 0)]

    async def _run(self, response_id: str) -> None:
        host = self.host
        outputs = self.decide(response_id)
        response = {"id": response_id, "object": "realtime.response", "status": "in_progress", "output": []}
        started: list[Output] = []
        status: str = "completed"
        details: dict[str, Any] | None = None
        try:
            await host.send({"type": "response.created", "response": response})
            for output in outputs:
                started.append(output)
                await output.stream()
        except asyncio.CancelledError:
            status, details = "cancelled", {"type": "cancelled", "reason": self._cancel_reason}
        except ConnectionClosed:
            self._client_left(outputs, response_id)
            return
        except Exception:
            log.exception("an emulated response failed")
            status, details = "failed", {"type": "failed", "error": {
                "type": "server_error", "code": "response_failed",
                "message": "The server had an error while processing the response."}}
        for output in started:
            try:
                await output.finish(status)
            except ConnectionClosed:
                self._client_left(outputs, response_id)
                return
            except Exception:
                log.exception("closing a response output failed")
        words = sum(output.words for output in started)
        await host.send({"type": "response.done", "response": {
            **response, "status": status, "status_details": details,
            "output": [o.item for o in started if o.added],
            "usage": {"total_tokens": 10 + words * 2, "input_tokens": 10, "output_tokens": words * 2,
                      "input_token_details": {"cached_tokens": 0, "text_tokens": 10, "audio_tokens": 0},
                      "output_token_details": {"text_tokens": words, "audio_tokens": words}}}})
        self._finished(outputs, response_id, status)

    def _client_left(self, outputs: list[Output], response_id: str) -> None:
        """The client closed the socket mid-response (it quit): nothing to send, and nothing went wrong."""
        log.debug("the client left during response %s", response_id)
        self._finished(outputs, response_id, "cancelled")

    def _finished(self, outputs: list[Output], response_id: str, status: str) -> None:
        for output in outputs:
            record = self.host.conversation.replies.get(output.item["id"])
            if record is not None:
                record.status, record.finished_at = status, time.monotonic()
        if self._response_id == response_id and status != "cancelled":
            self._task = None
