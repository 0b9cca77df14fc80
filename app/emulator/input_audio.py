"""The input audio buffer: appended audio, the VAD's turns, and manual commit / clear.

Times are on the input timeline (ms of audio appended since the session began), as the service reports
them. The last `INPUT_KEEP_S` seconds are kept so a committed turn can be played back as the reply.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from app.audio import SAMPLE_RATE
from app.emulator.audio_formats import InputDecoder
from app.emulator.conversation import Handler, new_id
from app.emulator.fillers import FILLER_MAX_MS, is_filler
from app.emulator.prosody import sounds_finished
from app.emulator.vad import EnergyVad, VadEvent

if TYPE_CHECKING:
    from app.emulator.session import EmulatorSession

INPUT_KEEP_S = 60
MIN_COMMIT_MS = 100  # the service refuses to commit less (input_audio_buffer_commit_empty)


class InputAudio:
    def __init__(self, host: EmulatorSession) -> None:
        self.host = host
        self.vad = EnergyVad()
        self.vad.judge = self._sounds_finished
        self.decoder = InputDecoder()
        self.audio = bytearray()  # the last INPUT_KEEP_S seconds appended
        self.arrivals: deque[tuple[float, int]] = deque(maxlen=20000)  # (time, samples seen after it)
        self.offset = 0  # samples dropped from the front of `audio`
        self.speech_started_at: list[float] = []
        self._speech_item: str | None = None
        self._speech_start_ms = 0
        self._manual_start = 0  # samples: start of the uncommitted buffer without VAD
        self._pending: deque[VadEvent] = deque()  # decided, not yet reported (the VAD's lag)
        self._held: VadEvent | None = None  # a speech start that may still turn out to be a filler
        self.fillers_removed = 0

    def configure(self, session: dict[str, Any]) -> None:
        """Follow the session's turn detection and input format (a new format applies to the next append)."""
        turn_detection = session.get("turn_detection")
        self.vad.configure(turn_detection)
        if turn_detection is None:
            self._pending.clear()  # no VAD, no late VAD events either
            self._held = None
        fmt = session.get("input_audio_format", "pcm16")
        rate = int(session.get("input_audio_sampling_rate") or SAMPLE_RATE)
        if (fmt, rate) != (self.decoder.format, self.decoder.rate):
            self.decoder = InputDecoder(fmt, rate)

    def handlers(self) -> dict[str, Handler]:
        return {
            "input_audio_buffer.append": self._on_append,
            "input_audio_buffer.commit": self._on_commit,
            "input_audio_buffer.clear": self._on_clear,
        }

    def slice(self, start_ms: int, end_ms: int) -> npt.NDArray[np.int16]:
        """The kept audio between two input-timeline times (empty where it was already dropped)."""
        a = max(0, start_ms * SAMPLE_RATE // 1000 - self.offset)
        b = max(a, end_ms * SAMPLE_RATE // 1000 - self.offset)
        return np.frombuffer(bytes(self.audio[a * 2 : b * 2]), dtype="<i2")

    async def _on_append(self, event: dict[str, Any]) -> None:
        try:
            raw = base64.b64decode(event.get("audio", ""), validate=True)
        except (binascii.Error, ValueError, TypeError):
            await self.host.error("audio is not valid base64", param="audio", event_id=event.get("event_id"))
            return
        pcm = self.decoder.decode(raw)
        self.audio.extend(pcm.tobytes())
        self.arrivals.append((time.monotonic(), self.vad.position + len(pcm)))
        excess = len(self.audio) // 2 - INPUT_KEEP_S * SAMPLE_RATE
        if excess > 0:
            del self.audio[: excess * 2]
            self.offset += excess
        for vad_event in self.vad.feed(pcm):
            self._gate(vad_event)
        if self._held is not None and self.vad.speech_ms >= FILLER_MAX_MS:
            self._pending.append(replace(self._held, at=self.vad.position))  # too long for a filler
            self._held = None
        lag = self.host.options.vad_delay_ms * SAMPLE_RATE // 1000
        while self._pending and self._pending[0].at + lag <= self.vad.position:
            vad_event = self._pending.popleft()
            if vad_event.kind == "start":
                await self._speech_started(vad_event.ms)
            else:
                await self._speech_stopped(vad_event.ms)

    def _sounds_finished(self, start: int, end: int) -> bool:
        """The end-of-utterance judgement (opt-in: EmulatorOptions.semantic_eou, serve --semantic-eou)."""
        if not self.host.options.semantic_eou:
            return True
        return sounds_finished(self.slice(start * 1000 // SAMPLE_RATE, end * 1000 // SAMPLE_RATE))

    def _gate(self, event: VadEvent) -> None:
        """Queue a VAD decision for reporting; with remove_filler_words, hold a start until the sound proves
        to be more than a filler (fillers.py says how), and drop a filler's start and stop together."""
        td = self.host.session.get("turn_detection") or {}
        if event.kind == "start" and td.get("remove_filler_words"):
            self._held = event
            return
        if event.kind == "stop" and self._held is not None:
            start, self._held = self._held, None
            if is_filler(self.slice(start.onset_ms, event.ms)):
                self.fillers_removed += 1
                return
            self._pending.append(replace(start, at=event.at))
        self._pending.append(event)

    async def _speech_started(self, start_ms: int) -> None:
        host = self.host
        self._speech_item = new_id("item")
        self._speech_start_ms = start_ms
        self.speech_started_at.append(time.monotonic())
        await host.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": start_ms,
                         "item_id": self._speech_item})
        td = host.session.get("turn_detection") or {}
        if host.responses.active and td.get("interrupt_response", True):
            await host.responses.cancel("turn_detected")

    async def _speech_stopped(self, end_ms: int) -> None:
        host = self.host
        item_id = self._speech_item or new_id("item")
        self._speech_item = None
        await host.send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": end_ms, "item_id": item_id})
        await self._commit(item_id, self.slice(self._speech_start_ms, end_ms))
        self._manual_start = self.vad.position  # the VAD's commit empties the buffer too
        td = host.session.get("turn_detection") or {}
        if td.get("create_response", True):
            host.responses.start()

    async def _commit(self, item_id: str, audio: npt.NDArray[np.int16]) -> None:
        host = self.host
        previous = host.conversation.last_id
        item = {"id": item_id, "object": "realtime.item", "type": "message", "role": "user", "status": "completed",
                "content": [{"type": "input_audio", "transcript": None}]}
        host.conversation.append({**item, "_audio": audio})
        await host.send({"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": previous})
        await host.send({"type": "conversation.item.created", "previous_item_id": previous, "item": item})
        if host.session.get("input_audio_transcription"):
            seconds = len(audio) / SAMPLE_RATE
            await host.send({"type": "conversation.item.input_audio_transcription.completed", "item_id": item_id,
                             "content_index": 0, "transcript": f"({seconds:.1f} s of speech)"})

    async def _on_commit(self, event: dict[str, Any]) -> None:
        """Commit what was appended since the last commit or clear; the service wants at least 100 ms."""
        start, end = self._manual_start, self.vad.position
        held_ms = (end - start) * 1000 / SAMPLE_RATE
        if held_ms < MIN_COMMIT_MS:
            event_id = event.get("event_id")
            await self.host.error(
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has {held_ms:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty", event_id=event_id if isinstance(event_id, str) else None)
            return
        self._manual_start = end
        await self._commit(new_id("item"), self.slice(start * 1000 // SAMPLE_RATE, end * 1000 // SAMPLE_RATE))

    async def _on_clear(self, event: dict[str, Any]) -> None:
        self._manual_start = self.vad.position
        await self.host.send({"type": "input_audio_buffer.cleared"})
