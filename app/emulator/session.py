"""One emulated conversation: handles client events, runs the VAD, streams responses.

Events are sent through `send(event_dict)`; everything sent and received is also recorded (bounded) so
tests and benchmarks can check what the server saw and when.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from app.audio import SAMPLE_RATE
from app.emulator.state import SessionUpdateError, apply_update, default_session
from app.emulator.vad import EnergyVad
from app.emulator.voice import reply_for_speech, reply_for_text, tone

Send = Callable[[dict[str, Any]], Awaitable[None]]
INPUT_KEEP_S = 60


def _id(prefix: str) -> str:
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


class EmulatorSession:
    def __init__(self, send: Send, *, model: str, speed: float, chunk_ms: int, session_cap_s: float) -> None:
        self._send_raw = send
        self.session = default_session(model, session_cap_s)
        self.speed = max(speed, 0.01)
        self.chunk_ms = chunk_ms
        self.vad = EnergyVad()
        self.vad.configure(self.session["turn_detection"])
        self.received: deque[dict[str, Any]] = deque(maxlen=5000)  # client events, audio elided
        self.sent: deque[tuple[float, dict[str, Any]]] = deque(maxlen=5000)  # (time, event), audio elided
        self.input_audio = bytearray()  # the last INPUT_KEEP_S seconds appended
        self.input_arrivals: deque[tuple[float, int]] = deque(maxlen=20000)  # (time, samples seen after it)
        self.input_offset = 0  # samples dropped from the front of input_audio
        self.items: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.replies: dict[str, ReplyRecord] = {}
        self.speech_started_at: list[float] = []
        self._speech_item: str | None = None
        self._response: asyncio.Task[None] | None = None
        self._response_id: str | None = None
        self._manual_buffer_start = 0  # samples: start of the uncommitted buffer without VAD
        self.close_code: int | None = None  # how the client closed the socket (1000 = on purpose)

    # ------------------------------------------------------------------ sending
    async def send(self, event: dict[str, Any]) -> None:
        event.setdefault("event_id", _id("event"))
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
        if self._response is not None:
            self._response.cancel()
            await asyncio.gather(self._response, return_exceptions=True)

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
        handler = getattr(self, "_on_" + kind.replace(".", "_"), None)
        if handler is None:
            await self.error(f"unknown event type '{kind}'", code="unknown_event", event_id=event.get("event_id"))
            return
        await handler(event)

    async def _on_session_update(self, event: dict[str, Any]) -> None:
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
        self.vad.configure(self.session.get("turn_detection"))
        await self.send({"type": "session.updated", "session": self.session})

    async def _on_input_audio_buffer_append(self, event: dict[str, Any]) -> None:
        try:
            raw = base64.b64decode(event.get("audio", ""), validate=True)
        except (binascii.Error, ValueError, TypeError):
            await self.error("audio is not valid base64", param="audio", event_id=event.get("event_id"))
            return
        pcm = np.frombuffer(raw[: len(raw) - len(raw) % 2], dtype="<i2")
        self.input_audio.extend(pcm.tobytes())
        self.input_arrivals.append((time.monotonic(), self.vad.position + len(pcm)))
        excess = len(self.input_audio) // 2 - INPUT_KEEP_S * SAMPLE_RATE
        if excess > 0:
            del self.input_audio[: excess * 2]
            self.input_offset += excess
        for vad_event in self.vad.feed(pcm):
            if vad_event.kind == "start":
                await self._speech_started(vad_event.ms)
            else:
                await self._speech_stopped(vad_event.ms)

    def _input_slice(self, start_ms: int, end_ms: int) -> npt.NDArray[np.int16]:
        a = max(0, start_ms * SAMPLE_RATE // 1000 - self.input_offset)
        b = max(a, end_ms * SAMPLE_RATE // 1000 - self.input_offset)
        return np.frombuffer(bytes(self.input_audio[a * 2 : b * 2]), dtype="<i2")

    async def _speech_started(self, start_ms: int) -> None:
        self._speech_item = _id("item")
        self._speech_start_ms = start_ms
        self.speech_started_at.append(time.monotonic())
        await self.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": start_ms,
                         "item_id": self._speech_item})
        td = self.session.get("turn_detection") or {}
        if self._response is not None and td.get("interrupt_response", True):
            await self._cancel_response("turn_detected")

    async def _speech_stopped(self, end_ms: int) -> None:
        item_id = self._speech_item or _id("item")
        self._speech_item = None
        await self.send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": end_ms, "item_id": item_id})
        audio = self._input_slice(self._speech_start_ms, end_ms)
        await self._commit(item_id, audio)
        td = self.session.get("turn_detection") or {}
        if td.get("create_response", True):
            self._start_response()

    async def _commit(self, item_id: str, audio: npt.NDArray[np.int16]) -> None:
        previous = self.order[-1] if self.order else None
        item = {"id": item_id, "object": "realtime.item", "type": "message", "role": "user", "status": "completed",
                "content": [{"type": "input_audio", "transcript": None}]}
        self.items[item_id] = {**item, "_audio": audio}
        self.order.append(item_id)
        await self.send({"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": previous})
        await self.send({"type": "conversation.item.created", "previous_item_id": previous, "item": item})
        if self.session.get("input_audio_transcription"):
            seconds = len(audio) / SAMPLE_RATE
            await self.send({"type": "conversation.item.input_audio_transcription.completed", "item_id": item_id,
                             "content_index": 0, "transcript": f"({seconds:.1f} s of speech)"})

    async def _on_input_audio_buffer_commit(self, event: dict[str, Any]) -> None:
        start_ms = self._manual_buffer_start * 1000 // SAMPLE_RATE
        end_ms = self.vad.position_ms
        if end_ms - start_ms <= 0:
            await self.error("the input audio buffer is empty", code="input_audio_buffer_commit_empty",
                             event_id=event.get("event_id"))
            return
        self._manual_buffer_start = self.vad.position
        await self._commit(_id("item"), self._input_slice(start_ms, end_ms))

    async def _on_input_audio_buffer_clear(self, event: dict[str, Any]) -> None:
        self._manual_buffer_start = self.vad.position
        await self.send({"type": "input_audio_buffer.cleared"})

    async def _on_conversation_item_create(self, event: dict[str, Any]) -> None:
        item = event.get("item")
        if not isinstance(item, dict) or item.get("type") not in ("message", "function_call_output", "function_call"):
            await self.error("item must be an object with a valid type", param="item", event_id=event.get("event_id"))
            return
        previous = event.get("previous_item_id")
        if previous not in (None, "root") and previous not in self.items:
            await self.error(f"unknown previous_item_id '{previous}'", param="previous_item_id",
                             event_id=event.get("event_id"))
            return
        item = {**item, "id": item.get("id") or _id("item"), "object": "realtime.item", "status": "completed"}
        self.items[item["id"]] = item
        self.order.append(item["id"])
        await self.send({"type": "conversation.item.created", "previous_item_id": previous, "item": item})

    async def _on_conversation_item_truncate(self, event: dict[str, Any]) -> None:
        item_id, end_ms = event.get("item_id"), event.get("audio_end_ms")
        reply = self.replies.get(item_id) if isinstance(item_id, str) else None
        if reply is None:
            await self.error(f"no assistant item '{item_id}'", param="item_id", event_id=event.get("event_id"))
            return
        if event.get("content_index", 0) != 0:
            await self.error("content_index must be 0", param="content_index", event_id=event.get("event_id"))
            return
        sent_ms = len(reply.audio) // 2 * 1000 // SAMPLE_RATE
        if not isinstance(end_ms, int) or end_ms < 0 or end_ms > sent_ms:
            await self.error(f"audio_end_ms {end_ms} is beyond the {sent_ms} ms of audio sent",
                             param="audio_end_ms", event_id=event.get("event_id"))
            return
        reply.truncated_at_ms = end_ms
        await self.send({"type": "conversation.item.truncated", "item_id": item_id, "content_index": 0,
                         "audio_end_ms": end_ms})

    async def _on_conversation_item_delete(self, event: dict[str, Any]) -> None:
        item_id = event.get("item_id")
        if item_id not in self.items:
            await self.error(f"no item '{item_id}'", param="item_id", event_id=event.get("event_id"))
            return
        del self.items[item_id]
        self.order.remove(item_id)
        await self.send({"type": "conversation.item.deleted", "item_id": item_id})

    async def _on_conversation_item_retrieve(self, event: dict[str, Any]) -> None:
        item = self.items.get(event.get("item_id"))  # type: ignore[arg-type]
        if item is None:
            await self.error(f"no item '{event.get('item_id')}'", param="item_id", event_id=event.get("event_id"))
            return
        await self.send({"type": "conversation.item.retrieved",
                         "item": {k: v for k, v in item.items() if not k.startswith("_")}})

    async def _on_response_create(self, event: dict[str, Any]) -> None:
        if self._response is not None:
            await self._cancel_response("client_cancelled")
        self._start_response()

    async def _on_response_cancel(self, event: dict[str, Any]) -> None:
        if self._response is None:
            await self.error("there is no active response to cancel", code="response_cancel_not_active",
                             event_id=event.get("event_id"))
            return
        await self._cancel_response("client_cancelled")

    # ------------------------------------------------------------------ responses
    def _start_response(self) -> None:
        self._response_id = _id("resp")
        self._response = asyncio.create_task(self._respond(self._response_id), name="emulator-response")

    async def _cancel_response(self, reason: str) -> None:
        task, self._response = self._response, None
        if task is None:
            return
        self._cancel_reason = reason
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def _respond(self, response_id: str) -> None:
        item_id = _id("item")
        audio_out = "audio" in self.session.get("modalities", ["audio"])
        previous = self.order[-1] if self.order else None
        source = self.items.get(previous) if previous else None
        base = {"response_id": response_id, "item_id": item_id, "output_index": 0, "content_index": 0}
        item = {"id": item_id, "object": "realtime.item", "type": "message", "role": "assistant",
                "status": "in_progress", "content": []}
        response = {"id": response_id, "object": "realtime.response", "status": "in_progress", "output": []}
        reply = self.replies[item_id] = ReplyRecord(item_id)
        transcript = ""
        try:
            await self.send({"type": "response.created", "response": response})
            text, audio = await self._reply_content(source)
            await self.send({"type": "response.output_item.added", "response_id": response_id, "output_index": 0,
                             "item": item})
            self.items[item_id] = item
            self.order.append(item_id)
            await self.send({"type": "conversation.item.created", "previous_item_id": previous, "item": item})
            part_type = "audio" if audio_out else "text"
            await self.send({"type": "response.content_part.added", **base, "part": {"type": part_type}})
            words = text.split(" ")
            chunk = max(1, self.chunk_ms * SAMPLE_RATE // 1000)
            chunks = [audio[i : i + chunk] for i in range(0, len(audio), chunk)] if audio_out else [audio[:0]] * 4
            per_chunk = max(1, -(-len(words) // max(1, len(chunks))))
            stamps = audio_out and "word" in (self.session.get("output_audio_timestamp_types") or [])
            word_ms = (len(audio) * 1000 // SAMPLE_RATE) // max(1, len(words))
            for index, pcm in enumerate(chunks):
                said = words[index * per_chunk : (index + 1) * per_chunk]
                if said:
                    delta = (" " if transcript else "") + " ".join(said)
                    transcript += delta
                    kind = "response.audio_transcript.delta" if audio_out else "response.text.delta"
                    await self.send({"type": kind, **base, "delta": delta})
                    if stamps:
                        for n, word in enumerate(said, start=index * per_chunk):
                            await self.send({"type": "response.audio_timestamp.delta", **base, "text": word,
                                             "audio_offset_ms": n * word_ms, "audio_duration_ms": word_ms,
                                             "timestamp_type": "word"})
                if audio_out and len(pcm):
                    if reply.first_audio_at is None:
                        reply.first_audio_at = time.monotonic()
                    reply.audio.extend(pcm.tobytes())
                    await self.send({"type": "response.audio.delta", **base,
                                     "delta": base64.b64encode(pcm.tobytes()).decode("ascii")})
                    await asyncio.sleep(len(pcm) / SAMPLE_RATE / self.speed)
            transcript = text
            status, details = "completed", None
        except asyncio.CancelledError:
            status, details = "cancelled", {"type": "cancelled", "reason": getattr(self, "_cancel_reason", "client")}
        await self._finish_response(response, item, base, transcript, audio_out, status, details)
        reply.status, reply.finished_at = status, time.monotonic()
        if self._response_id == response_id and status == "completed":
            self._response = None

    async def _reply_content(self, source: dict[str, Any] | None) -> tuple[str, npt.NDArray[np.int16]]:
        if source is not None and source.get("role") == "user":
            texts = [p.get("text", "") for p in source.get("content", []) if p.get("type") == "input_text"]
            if texts:
                return await reply_for_text(" ".join(texts))
            audio = source.get("_audio")
            if audio is not None and len(audio):
                return reply_for_speech(audio)
        return "There is nothing to answer yet; here is a tone.", tone()

    async def _finish_response(self, response: dict[str, Any], item: dict[str, Any], base: dict[str, Any],
                               transcript: str, audio_out: bool, status: str, details: Any) -> None:
        part: dict[str, Any] = {"type": "audio", "transcript": transcript} if audio_out else {"type": "text",
                                                                                              "text": transcript}
        item.update(status="completed" if status == "completed" else "incomplete", content=[part])
        if audio_out:
            await self.send({"type": "response.audio.done", **base})
            await self.send({"type": "response.audio_transcript.done", **base, "transcript": transcript})
        else:
            await self.send({"type": "response.text.done", **base, "text": transcript})
        await self.send({"type": "response.content_part.done", **base, "part": part})
        await self.send({"type": "response.output_item.done", "response_id": base["response_id"], "output_index": 0,
                         "item": item})
        words = len(transcript.split())
        await self.send({"type": "response.done", "response": {
            **response, "status": status, "status_details": details, "output": [item],
            "usage": {"total_tokens": 10 + words * 2, "input_tokens": 10, "output_tokens": words * 2,
                      "input_token_details": {"cached_tokens": 0, "text_tokens": 10, "audio_tokens": 0},
                      "output_token_details": {"text_tokens": words, "audio_tokens": words}}}})
