"""The emulated conversation: items in order, a record of each assistant reply, and the `conversation.item.*`
events that read and change them.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.audio import SAMPLE_RATE
from app.emulator.limits import ITEMS_BUDGET_CHARS, MAX_ITEMS, MAX_REPLIES, REPLY_AUDIO_KEEP_S, item_problem

if TYPE_CHECKING:
    from app.emulator.session import EmulatorSession

Handler = Callable[[dict[str, Any]], Awaitable[None]]


def new_id(prefix: str) -> str:
    """A service-style id: `item_…`, `resp_…`, `event_…`."""
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


@dataclass
class ReplyRecord:
    """What the emulator sent for one assistant item (for tests and benchmarks).

    `audio` is the 24 kHz PCM sent, up to REPLY_AUDIO_KEEP_S; older records lose theirs when newer replies
    need the room (`audio_dropped`). `sent_samples` always counts everything sent.
    """

    item_id: str
    audio: bytearray = field(default_factory=bytearray)
    sent_samples: int = 0
    first_audio_at: float | None = None
    finished_at: float | None = None
    status: str = "in_progress"
    truncated_at_ms: int | None = None
    audio_dropped: bool = False

    def mark_audio_sent(self, pcm: bytes) -> None:
        if self.first_audio_at is None:
            self.first_audio_at = time.monotonic()
        self.sent_samples += len(pcm) // 2
        room = REPLY_AUDIO_KEEP_S * SAMPLE_RATE * 2 - len(self.audio)
        if room > 0 and not self.audio_dropped:
            self.audio.extend(pcm[:room])

    @property
    def sent_ms(self) -> int:
        return self.sent_samples * 1000 // SAMPLE_RATE


def _size(item: dict[str, Any]) -> int:
    """Roughly what an item costs to keep: its JSON, plus the bytes of any audio it carries."""
    audio = item.get("_audio")
    plain = {k: v for k, v in item.items() if k != "_audio"}
    return len(json.dumps(plain)) + (int(audio.nbytes) if audio is not None else 0)


class Conversation:
    """Items by id plus their order; user items from the input buffer keep their audio under `_audio`.

    Bounded: past MAX_ITEMS items or ITEMS_BUDGET_CHARS the oldest items are forgotten (later references to
    them get the usual "no item" error), and only the last MAX_REPLIES reply records are kept.
    """

    def __init__(self, host: EmulatorSession) -> None:
        self.host = host
        self.items: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.replies: OrderedDict[str, ReplyRecord] = OrderedDict()
        self._sizes: dict[str, int] = {}
        self._kept = 0

    @property
    def last_id(self) -> str | None:
        return self.order[-1] if self.order else None

    def append(self, item: dict[str, Any]) -> None:
        item_id = item["id"]
        if item_id in self.items:
            self.remove(item_id)
        self.items[item_id] = item
        self.order.append(item_id)
        self._sizes[item_id] = _size(item)
        self._kept += self._sizes[item_id]
        while len(self.order) > 1 and (len(self.order) > MAX_ITEMS or self._kept > ITEMS_BUDGET_CHARS):
            self.remove(self.order[0])

    def remove(self, item_id: str) -> None:
        del self.items[item_id]
        self.order.remove(item_id)
        self._kept -= self._sizes.pop(item_id, 0)

    def clear(self) -> None:
        self.items.clear()
        self.order.clear()
        self.replies.clear()
        self._sizes.clear()
        self._kept = 0

    def new_reply(self, item_id: str) -> ReplyRecord:
        """A record for a new assistant item; the oldest records (and their audio) make room for it."""
        reply = self.replies[item_id] = ReplyRecord(item_id)
        while len(self.replies) > MAX_REPLIES:
            self.replies.popitem(last=False)
        budget = REPLY_AUDIO_KEEP_S * SAMPLE_RATE * 2
        for old in reversed(list(self.replies.values())[:-1]):
            budget -= len(old.audio)
            if budget < 0 and old.audio:
                old.audio, old.audio_dropped = bytearray(), True
        return reply

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
        problem = item_problem(item)
        if problem is not None:
            await host.refuse(problem, event)
            return
        assert isinstance(item, dict)
        tool_problem = host.toolbox.check_item(item)
        if tool_problem is not None:
            await host.error(tool_problem[0], param=tool_problem[1], event_id=event.get("event_id"))
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
        self.remove(item_id)
        await self.host.send({"type": "conversation.item.deleted", "item_id": item_id})

    async def _on_retrieve(self, event: dict[str, Any]) -> None:
        item = self.items.get(event.get("item_id"))  # type: ignore[arg-type]
        if item is None:
            await self.host.error(f"no item '{event.get('item_id')}'", param="item_id", event_id=event.get("event_id"))
            return
        await self.host.send({"type": "conversation.item.retrieved",
                              "item": {k: v for k, v in item.items() if not k.startswith("_")}})
