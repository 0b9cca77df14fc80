"""Typed client events: what this client sends. `to_json` omits unset optional fields."""

from __future__ import annotations

import base64
import json
from typing import Any

from app.protocol.events_base import Event


class ClientEvent(Event):
    """Base of every event this client sends; `to_json` omits unset optional fields."""

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_none=True), separators=(",", ":"))


class SessionUpdate(ClientEvent):
    """`session` is the payload from `SessionConfig.to_payload`, which may hold explicit nulls."""

    type: str = "session.update"
    session: dict[str, Any]

    def to_json(self) -> str:
        data: dict[str, Any] = {"type": self.type, "session": self.session}
        if self.event_id:
            data["event_id"] = self.event_id
        return json.dumps(data, separators=(",", ":"))


class InputAudioAppend(ClientEvent):
    type: str = "input_audio_buffer.append"
    audio: str


class InputAudioCommit(ClientEvent):
    type: str = "input_audio_buffer.commit"


class InputAudioClear(ClientEvent):
    type: str = "input_audio_buffer.clear"


class ItemCreate(ClientEvent):
    type: str = "conversation.item.create"
    item: dict[str, Any]
    previous_item_id: str | None = None


class ItemTruncate(ClientEvent):
    type: str = "conversation.item.truncate"
    item_id: str
    content_index: int = 0
    audio_end_ms: int


class ResponseCreate(ClientEvent):
    type: str = "response.create"
    response: dict[str, Any] | None = None
    additional_instructions: str | None = None


class ResponseCancel(ClientEvent):
    type: str = "response.cancel"
    response_id: str | None = None


def audio_append_json(pcm: bytes) -> str:
    """`input_audio_buffer.append` for one block, built directly: it is sent 50 times a second, and base64
    text needs no JSON escaping. Equal to `InputAudioAppend(audio=...).to_json()`."""
    return '{"type":"input_audio_buffer.append","audio":"' + base64.b64encode(pcm).decode("ascii") + '"}'


def user_text_item(text: str, role: str = "user") -> dict[str, Any]:
    """A typed user (or system) message, as `conversation.item.create` expects it."""
    return {"type": "message", "role": role, "content": [{"type": "input_text", "text": text}]}


def assistant_text_item(text: str) -> dict[str, Any]:
    """An assistant message as text; used to replay context into a new connection."""
    return {"type": "message", "role": "assistant", "content": [{"type": "text", "text": text}]}


def function_call_output_item(call_id: str, output: str) -> dict[str, Any]:
    """The result of a function call, as `conversation.item.create` expects it (`output` is a string)."""
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def mcp_approval_response_item(approval_request_id: str, *, approve: bool) -> dict[str, Any]:
    """The user's answer to an `mcp_approval_request` item (the service then calls the tool, or not)."""
    return {"type": "mcp_approval_response", "approval_request_id": approval_request_id, "approve": approve}
