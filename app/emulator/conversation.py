"""The emulated conversation: items in order, a record of each assistant reply, and the `conversation.item.*`
events that read and change them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.audio import SAMPLE_RATE

if TYPE_CHECKING:
    from app.emulator.session import EmulatorSession

Handler = Callable[[dict[str, Any]], Awaitable[None]]


def new_id(prefix: str) -> str:
    """A service-style id: `item_…`, `resp_…`, `event_…`."""
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


@dataclass
class ReplyRecord:
    """What the emulator sent for one assistant item (for tests and benchmarks)."""

    item_id: str
    audio: bytearray = field(default_factory=bytearray)
    first_audio_at: float | None = None
    finished_at: float | None = None
    status: str = "in_progress"
    truncated_at_ms: int | None = None

    def mark_audio_sent(self, pcm: bytes) -> None:
        if self.first_audio_at is None:
            self.first_audio_at = time.monotonic()
        self.audio.extend(pcm)

    @property
    def sent_ms(self) -> int:
        return len(self.audio) // 2 * 1000 // SAMPLE_RATE


class Conversation:
    """Items by id plus their order; user items from the input buffer keep their audio under `_audio`."""

    def __init__(self, host: EmulatorSession) -> None:
        self.host = host
        self.items: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.replies: dict[str, ReplyRecord] = {}

    @property
    def last_id(self) -> str | None:
        return self.order[-1] if self.order else None

    def append(self, item: dict[str, Any]) -> None:
        self.items[item["id"]] = item
        self.order.append(item["id"])

    def handlers(self) -> dict[str, Handler]:
        return {
            "conversation.item.create": self._on_create,
            "conversation.item.truncate": self._on_truncate,
            "conversation.item.delete": self._on_delete,
            "conversation.item.retrieve": self._on_retrieve,
        }

    async def _on_create(self, event: dict[str, Any]) -> None:
        host = self.host
        item = event.get("item")
        if not isinstance(item, dict) or item.get("type") not in ("message", "function_call_output", "function_call",
                                                                  "mcp_approval_response"):
            await host.error("item must be an object with a valid type", param="item", event_id=event.get("event_id"))
            return
        problem = host.toolbox.check_item(item)
        if problem is not None:
            await host.error(problem[0], param=problem[1], event_id=event.get("event_id"))
            return
        previous = event.get("previous_item_id")
        if previous not in (None, "root") and previous not in self.items:
            await host.error(f"unknown previous_item_id '{previous}'", param="previous_item_id",
                             event_id=event.get("event_id"))
            return
        item = {**item, "id": item.get("id") or new_id("item"), "object": "realtime.item", "status": "completed"}
        self.append(item)
        await host.send({"type": "conversation.item.created", "previous_item_id": previous, "item": item})
        await host.toolbox.item_added(item)

    async def _on_truncate(self, event: dict[str, Any]) -> None:
        host = self.host
        item_id, end_ms = event.get("item_id"), event.get("audio_end_ms")
        reply = self.replies.get(item_id) if isinstance(item_id, str) else None
        if reply is None:
            await host.error(f"no assistant item '{item_id}'", param="item_id", event_id=event.get("event_id"))
            return
        if event.get("content_index", 0) != 0:
            await host.error("content_index must be 0", param="content_index", event_id=event.get("event_id"))
            return
        sent_ms = reply.sent_ms
        if not isinstance(end_ms, int) or end_ms < 0 or end_ms > sent_ms:
            await host.error(f"audio_end_ms {end_ms} is beyond the {sent_ms} ms of audio sent",
                             param="audio_end_ms", event_id=event.get("event_id"))
            return
        reply.truncated_at_ms = end_ms
        await host.send({"type": "conversation.item.truncated", "item_id": item_id, "content_index": 0,
                         "audio_end_ms": end_ms})

    async def _on_delete(self, event: dict[str, Any]) -> None:
        item_id = event.get("item_id")
        if item_id not in self.items:
            await self.host.error(f"no item '{item_id}'", param="item_id", event_id=event.get("event_id"))
            return
        del self.items[item_id]
        self.order.remove(item_id)
        await self.host.send({"type": "conversation.item.deleted", "item_id": item_id})

    async def _on_retrieve(self, event: dict[str, Any]) -> None:
        item = self.items.get(event.get("item_id"))  # type: ignore[arg-type]
        if item is None:
            await self.host.error(f"no item '{event.get('item_id')}'", param="item_id", event_id=event.get("event_id"))
            return
        await self.host.send({"type": "conversation.item.retrieved",
                              "item": {k: v for k, v in item.items() if not k.startswith("_")}})
