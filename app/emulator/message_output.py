"""One assistant message in a response: its content is made, then streamed as transcript and audio deltas
(or text deltas in a text-only session), then closed with the `.done` events whatever the outcome.
"""

from __future__ import annotations

import asyncio
import base64
import random
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from app.audio import SAMPLE_RATE
from app.emulator.audio_formats import wire_chunks
from app.emulator.conversation import ReplyRecord, new_id
from app.emulator.voice import reply_for_speech, reply_for_text, tone, viseme_for

if TYPE_CHECKING:
    from app.emulator.options import EmulatorOptions
    from app.emulator.session import EmulatorSession


class Pacer:
    """Sends audio on a clock at `speed`× real time (no drift from send times), each delta up to
    ± `net_jitter_ms` off its slot, never before the one it follows; with `jitter_seed`, the same offsets
    for every reply."""

    def __init__(self, options: EmulatorOptions) -> None:
        self.options = options
        self._loop = asyncio.get_running_loop()
        self._start = self._loop.time()
        self._audio_s = 0.0  # audio already sent, in seconds
        self._last_due = self._start
        self._rng = random.Random(options.jitter_seed)  # None: a fresh sequence each reply

    async def until_due(self) -> None:
        due = self._start + self._audio_s / max(self.options.speed, 0.01)
        jitter = self.options.net_jitter_ms / 1000
        if jitter > 0:
            due += self._rng.uniform(-jitter, jitter)
        self._last_due = max(due, self._last_due)
        await asyncio.sleep(max(0.0, self._last_due - self._loop.time()))

    def advance(self, seconds: float) -> None:
        self._audio_s += seconds

    async def until_played(self) -> None:
        """The response ends when its audio has been sent at pace, like the service's."""
        end = self._start + self._audio_s / max(self.options.speed, 0.01)
        await asyncio.sleep(max(0.0, end - self._loop.time()))


async def reply_content(source: dict[str, Any] | None) -> tuple[str, npt.NDArray[np.int16]]:
    """What the emulator says to an item: typed text is spoken back, speech is played back, else a tone."""
    if source is not None and source.get("role") == "user":
        parts = [p for p in source.get("content") or [] if isinstance(p, dict)]
        texts = [str(p.get("text") or "") for p in parts if p.get("type") == "input_text"]
        if texts:
            return await reply_for_text(" ".join(texts))
        audio = source.get("_audio")
        if audio is not None and len(audio):
            return reply_for_speech(audio)
    return "There is nothing to answer yet; here is a tone.", tone()


class MessageOutput:
    """An assistant `message` item answering `source` (the item before it in the conversation)."""

    def __init__(self, host: EmulatorSession, response_id: str, output_index: int) -> None:
        self.host = host
        item_id = new_id("item")
        self.audio_out = "audio" in host.session.get("modalities", ["audio"])
        self.previous = host.conversation.last_id
        self.source = host.conversation.items.get(self.previous) if self.previous else None
        self.base = {"response_id": response_id, "item_id": item_id, "output_index": output_index,
                     "content_index": 0}
        self.item: dict[str, Any] = {"id": item_id, "object": "realtime.item", "type": "message",
                                     "role": "assistant", "status": "in_progress", "content": []}
        self.reply: ReplyRecord = host.conversation.new_reply(item_id)
        self.transcript = ""
        self.added = False  # the client has seen response.output_item.added for it
        self.visemes = False  # viseme deltas were sent (so a viseme .done follows)

    @property
    def words(self) -> int:
        return len(self.transcript.split())

    async def stream(self) -> None:
        """Send the item and its content; cancellation may stop this anywhere."""
        host, base, reply = self.host, self.base, self.reply
        quoted = await host.toolbox.reply_for(self.source)  # after tool results: quote them
        text, audio = quoted if quoted is not None else await reply_content(self.source)
        self.added = True
        await host.send({"type": "response.output_item.added", "response_id": base["response_id"],
                         "output_index": base["output_index"], "item": self.item})
        host.conversation.append(self.item)
        await host.send({"type": "conversation.item.created", "previous_item_id": self.previous, "item": self.item})
        part_type = "audio" if self.audio_out else "text"
        await host.send({"type": "response.content_part.added", **base, "part": {"type": part_type}})
        words = text.split(" ")
        fmt = host.session.get("output_audio_format") or "pcm16"
        chunks = wire_chunks(audio, fmt, host.chunk_ms) if self.audio_out else [(audio[:0], b"")] * 4
        per_chunk = max(1, -(-len(words) // max(1, len(chunks))))
        stamps = self.audio_out and "word" in (host.session.get("output_audio_timestamp_types") or [])
        visemes = self.audio_out and "viseme_id" in ((host.session.get("animation") or {}).get("outputs") or [])
        word_ms = (len(audio) * 1000 // SAMPLE_RATE) // max(1, len(words))
        pace = Pacer(host.options)
        for index, (pcm, wire) in enumerate(chunks):
            said = words[index * per_chunk : (index + 1) * per_chunk]
            if said:
                delta = (" " if self.transcript else "") + " ".join(said)
                self.transcript += delta
                kind = "response.audio_transcript.delta" if self.audio_out else "response.text.delta"
                await host.send({"type": kind, **base, "delta": delta})
                if stamps:
                    for n, word in enumerate(said, start=index * per_chunk):
                        await host.send({"type": "response.audio_timestamp.delta", **base, "text": word,
                                         "audio_offset_ms": n * word_ms, "audio_duration_ms": word_ms,
                                         "timestamp_type": "word"})
            if self.audio_out and len(pcm):
                await pace.until_due()
                if visemes:
                    self.visemes = True
                    await host.send({"type": "response.animation_viseme.delta", **base,
                                     "audio_offset_ms": reply.sent_ms, "viseme_id": viseme_for(pcm)})
                reply.mark_audio_sent(pcm.tobytes())
                await host.send({"type": "response.audio.delta", **base,
                                 "delta": base64.b64encode(wire).decode("ascii")})
                pace.advance(len(pcm) / SAMPLE_RATE)
        await pace.until_played()
        self.transcript = text

    async def finish(self, status: str) -> None:
        """The closing events for this item, sent for every outcome (completed, cancelled, failed)."""
        host, base = self.host, self.base
        if not self.added:
            return
        part: dict[str, Any] = ({"type": "audio", "transcript": self.transcript} if self.audio_out
                                else {"type": "text", "text": self.transcript})
        self.item.update(status="completed" if status == "completed" else "incomplete", content=[part])
        if self.visemes:
            await host.send({"type": "response.animation_viseme.done", **base})
        if self.audio_out:
            await host.send({"type": "response.audio.done", **base})
            await host.send({"type": "response.audio_transcript.done", **base, "transcript": self.transcript})
        else:
            await host.send({"type": "response.text.done", **base, "text": self.transcript})
        await host.send({"type": "response.content_part.done", **base, "part": part})
        await host.send({"type": "response.output_item.done", "response_id": base["response_id"],
                         "output_index": base["output_index"], "item": self.item})
