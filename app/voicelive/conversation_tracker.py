"""What the conversation's server events do: turns, transcripts, reply audio, and barge-in.

The tracker is given the outbox (to send truncates and cancels) and, while audio is attached, the
playback output. It keeps the conversation model and tells the session's owner what happened through
`emit`. Handlers run on the session's loop, one event at a time; none awaits.

Barge-in is here because it needs all of it at once: which item is playing, how much of it was heard,
whether a response is still being generated, and the transcript to cut.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from app.conversation import Conversation, WordTime
from app.logs import WarningLimiter
from app.protocol import client_events as ce
from app.protocol import events as ev
from app.voicelive import notices as nt
from app.voicelive.outbox import Outbox
from app.voicelive.usage import Usage

log = logging.getLogger(__name__)
MAX_TURN_CHARS = 100_000  # a turn's text beyond this is cut (a misbehaving server must not fill memory)
CUT_NOTE = " […the text was cut here: the turn passed 100,000 characters]"


class AudioOutput(Protocol):
    """What the session needs from playback (implemented by `app.audio.playback.PlaybackBuffer`)."""

    def write(self, item_id: str, pcm: npt.NDArray[np.int16]) -> None: ...
    def end_item(self, item_id: str) -> None: ...
    def request_flush(self) -> None: ...
    def played_ms(self, item_id: str) -> int: ...
    def received_ms(self, item_id: str) -> int: ...
    def is_playing(self, item_id: str | None = None) -> bool: ...
    async def flushed(self, timeout: float = 0.25) -> None: ...


class ConversationTracker:
    def __init__(self, outbox: Outbox, emit: Callable[[nt.Notice], None], *, conversation: Conversation,
                 interrupts_on_speech: Callable[[], bool]) -> None:
        self.outbox = outbox
        self.emit = emit
        self.conversation = conversation
        self._interrupts_on_speech = interrupts_on_speech
        self._audio: AudioOutput | None = None
        self._active_response: str | None = None
        self._assistant_item: str | None = None  # the item whose audio is (or was last) playing
        self._interrupted: dict[str, int] = {}  # item id -> ms heard when it was cut
        self._cancel_sent_for: str | None = None
        self._turn_ended_at: float | None = None  # when the user's last turn ended (for latency)
        self._first_audio_ms: dict[str, int] = {}
        self._audio_started_for: str | None = None  # the last item whose first audio was announced
        self._user_speaking = False
        self._replay_pending = 0  # echoes of our own context replay still to come
        self._truncating: asyncio.Future[None] | None = None  # the truncate waiting for the device's flush
        # Items cut but not yet settled (the device is dropping its queue), with the end that arrived meanwhile:
        # the turn ends once, at the point the truncate says.
        self._settling: dict[str, tuple[str, Usage | None] | None] = {}
        self._warn = WarningLimiter(log)
        self.handlers: dict[str, Callable[[Any], None]] = {
            "input_audio_buffer.speech_started": self._speech_started,
            "input_audio_buffer.speech_stopped": self._speech_stopped,
            "input_audio_buffer.committed": self._committed,
            "conversation.item.created": self._item_created,
            "conversation.item.input_audio_transcription.delta": self._transcription_delta,
            "conversation.item.input_audio_transcription.completed": self._transcription_completed,
            "conversation.item.input_audio_transcription.failed": self._transcription_failed,
            "response.created": self._response_created,
            "response.output_item.added": self._output_item_added,
            "response.audio_transcript.delta": self._text_delta,
            "response.text.delta": self._text_delta,
            "response.audio.delta": self._audio_delta,
            "response.audio.done": self._audio_done,
            "response.audio_timestamp.delta": self._timestamp_delta,
            "response.done": self._response_done,
            "conversation.item.truncated": self._truncated,
        }

    # ------------------------------------------------------------------ owned by the session
    def attach(self, output: AudioOutput | None) -> None:
        self._audio = output

    @property
    def audio(self) -> AudioOutput | None:
        return self._audio

    @property
    def playing_item(self) -> str | None:
        """The assistant item whose audio is (or was last) playing."""
        return self._assistant_item

    @property
    def audible(self) -> bool:
        """Reply audio is playing at the speaker: a stall now is a gap the user hears."""
        return self._audio is not None and self._audio.is_playing()

    @property
    def busy(self) -> bool:
        """A reply is being generated or played, or the user is talking: not a moment to reconnect."""
        return self._active_response is not None or self._user_speaking or self.audible

    def expect_replay(self, count: int) -> None:
        self._replay_pending = count

    def text_sent(self) -> None:
        """A typed turn was sent: it ends the user's turn, for the first-audio latency."""
        self._turn_ended_at = time.monotonic()

    # ------------------------------------------------------------------ the user's side
    def _speech_started(self, event: ev.SpeechStarted) -> None:
        self._user_speaking = True
        if self._interrupts_on_speech():
            self.barge_in(send_cancel=False)
        self.emit(nt.SpeechStarted(event.item_id, event.audio_start_ms))

    def _speech_stopped(self, event: ev.SpeechStopped) -> None:
        self._user_speaking = False
        self._turn_ended_at = time.monotonic()
        self.emit(nt.SpeechStopped(event.item_id, event.audio_end_ms))

    def _committed(self, event: ev.InputAudioCommitted) -> None:
        if self.conversation.get(event.item_id) is None:
            self.conversation.add(event.item_id, "user")
            self.emit(nt.UserTurnAdded(event.item_id))
        self.emit(nt.InputCommitted(event.item_id))

    def _item_created(self, event: ev.ItemCreated) -> None:
        item = event.item
        item_id, role = item.get("id"), item.get("role")
        if item.get("type") != "message" or not isinstance(item_id, str) or role not in ("user", "system", "assistant"):
            return
        if self._replay_pending > 0:  # our own context replay after a reconnect: already in the conversation
            self._replay_pending -= 1
            return
        if role == "assistant" or self.conversation.get(item_id) is not None:
            return
        parts = item.get("content") or []
        texts = [p.get("text", "") for p in parts if isinstance(p, dict) and p.get("type") == "input_text"]
        if texts:
            text = _capped(" ".join(str(t) for t in texts))
            self.conversation.add(item_id, role, text, typed=True)
            self.conversation.finish(item_id)
            self.emit(nt.UserTurnAdded(item_id, text))
        else:
            self.conversation.add(item_id, role)
            self.emit(nt.UserTurnAdded(item_id))

    def _transcription_delta(self, event: ev.TranscriptionDelta) -> None:
        turn = self.conversation.get(event.item_id)
        if turn is not None and event.delta and len(turn.text) < MAX_TURN_CHARS:
            turn.text = _capped(turn.text + event.delta)
            self.emit(nt.UserTranscribed(event.item_id, turn.text, final=False))

    def _transcription_completed(self, event: ev.TranscriptionCompleted) -> None:
        self.conversation.add(event.item_id, "user")
        text = _capped(event.transcript)
        self.conversation.finish(event.item_id, "completed", text)
        self.emit(nt.UserTranscribed(event.item_id, text))

    def _transcription_failed(self, event: ev.TranscriptionFailed) -> None:
        self.conversation.finish(event.item_id, "completed")
        self.emit(nt.UserTranscribed(event.item_id, event.error.message, failed=True))

    # ------------------------------------------------------------------ the assistant's side
    def _response_created(self, event: ev.ResponseCreated) -> None:
        self._active_response = str(event.response.get("id") or "")
        self._cancel_sent_for = None

    def _output_item_added(self, event: ev.OutputItemAdded) -> None:
        item = event.item
        item_id = item.get("id")
        if item.get("type") == "message" and isinstance(item_id, str):
            self.conversation.add(item_id, "assistant")
            self._assistant_item = item_id
            self.emit(nt.AssistantTurnStarted(item_id, event.response_id))

    def _text_delta(self, event: ev.AudioTranscriptDelta | ev.TextDelta) -> None:
        turn = self.conversation.get(event.item_id)
        if turn is None:
            self._warn.warn("text for an unknown item", f"item {event.item_id}")
            return
        if turn.done or event.item_id in self._interrupted or len(turn.text) >= MAX_TURN_CHARS:
            return
        delta = event.delta
        if len(turn.text) + len(delta) > MAX_TURN_CHARS:
            delta = delta[: MAX_TURN_CHARS - len(turn.text)] + CUT_NOTE
            log.warning("item %s passed %d characters; the rest of its text is dropped", event.item_id,
                        MAX_TURN_CHARS)
        turn.text += delta
        self.emit(nt.AssistantTextDelta(event.item_id, delta))

    def _audio_delta(self, event: ev.AudioDelta) -> None:
        if event.item_id in self._interrupted:
            return  # the user already stopped this reply; late audio must not play
        turn = self.conversation.get(event.item_id)
        if turn is None or turn.role != "assistant" or turn.done:
            self._warn.warn("audio for an unknown or finished item", f"item {event.item_id}")
            return
        try:
            pcm = base64.b64decode(event.delta, validate=True)
        except (binascii.Error, ValueError):
            self._warn.warn("undecodable audio delta", f"item {event.item_id}")
            return
        if len(pcm) % 2:
            pcm = pcm[:-1]
        self._assistant_item = event.item_id
        if event.item_id not in self._first_audio_ms and self._turn_ended_at is not None:
            self._first_audio_ms[event.item_id] = round((time.monotonic() - self._turn_ended_at) * 1000)
        if event.item_id != self._audio_started_for:  # deltas of one item arrive together
            self._audio_started_for = event.item_id
            self.emit(nt.ReplyAudioStarted(event.item_id))
        if self._audio is not None:
            self._audio.write(event.item_id, np.frombuffer(pcm, dtype="<i2"))

    def _audio_done(self, event: ev.AudioDone) -> None:
        if self._audio is not None:
            self._audio.end_item(event.item_id)

    def _timestamp_delta(self, event: ev.AudioTimestampDelta) -> None:
        turn = self.conversation.get(event.item_id)
        if turn is not None and len(turn.words) < MAX_TURN_CHARS // 4:
            turn.words.append(WordTime(event.audio_offset_ms, event.audio_duration_ms, event.text))

    def _response_done(self, event: ev.ResponseDone) -> None:
        if self._active_response == event.response_id or event.response_id is None:
            self._active_response = None
        status = event.status or "completed"
        usage = Usage.from_response(event.response)
        if usage is not None:
            self.emit(nt.ResponseUsage(event.response_id, usage))
        for turn in self.conversation.turns:  # a spoken turn whose transcript never came is still a turn
            if turn.role == "user" and not turn.done:
                self.conversation.finish(turn.item_id, "completed")
        if status == "cancelled" and self._assistant_item not in self._interrupted:
            self.barge_in(send_cancel=False)  # the server cancelled (turn detected): stop what still plays
        for item in event.response.get("output", []) or []:
            item_id = item.get("id") if isinstance(item, dict) else None
            if isinstance(item_id, str):
                self._end_assistant_turn(item_id, status, usage)

    def _end_assistant_turn(self, item_id: str, status: str, usage: Usage | None = None) -> None:
        turn = self.conversation.get(item_id)
        if turn is None or turn.role != "assistant" or turn.done:
            return
        if item_id in self._settling:  # cut, and the device is still dropping its queue: end it once settled
            self._settling[item_id] = (status, usage)
            return
        interrupted = self._interrupted.get(item_id)
        if interrupted is not None:
            status = "cancelled"
            turn.interrupted_at_ms = interrupted
        heard = turn.heard_text(interrupted) if interrupted is not None and turn.words else None
        full = turn.text
        self.conversation.finish(item_id, status, heard)  # the transcript keeps what was heard, cut at a word
        audio_ms = self._audio.received_ms(item_id) if self._audio is not None else 0
        self.emit(nt.AssistantTurnEnded(item_id, status, full, interrupted, heard,
                                        self._first_audio_ms.pop(item_id, None), audio_ms, usage))

    def _truncated(self, event: ev.ItemTruncated) -> None:
        log.info("item %s truncated at %d ms", event.item_id, event.audio_end_ms)

    # ------------------------------------------------------------------ barge-in
    def barge_in(self, *, send_cancel: bool) -> None:
        """Flush playback, cancel the response if asked and active, truncate the item at what was heard."""
        item_id = self._assistant_item
        audio = self._audio
        playing = audio is not None and item_id is not None and audio.is_playing(item_id)
        if send_cancel and self._active_response:
            self._cancel_sent_for = self._active_response
            self.outbox.put(ce.ResponseCancel().to_json())
        if audio is None or item_id is None or item_id in self._interrupted:
            return
        turn = self.conversation.get(item_id)
        still_arriving = turn is not None and not turn.done
        if not playing and not still_arriving:
            return  # the reply was heard in full: nothing to truncate
        audio.request_flush()
        self._interrupted[item_id] = audio.played_ms(item_id)  # from now on, late audio for it is dropped
        self._settling[item_id] = None
        self._truncating = asyncio.ensure_future(self._truncate_when_flushed(audio, item_id, self.outbox.connection))

    async def _truncate_when_flushed(self, audio: AudioOutput, item_id: str, connection: int) -> None:
        """Truncate at what the DAC played: known once the device has dropped its queue (a few ms).

        A connection that ended meanwhile took the item with it: the next one would refuse the truncate.
        """
        try:
            await audio.flushed()
        finally:
            ended = self._settling.pop(item_id, None)
        heard_ms = self._interrupted[item_id] = audio.played_ms(item_id)
        if self.outbox.connection == connection:
            self.outbox.put(ce.ItemTruncate(item_id=item_id, content_index=0, audio_end_ms=heard_ms).to_json())
        log.info("barge-in: item %s stopped at %d ms of %d ms received", item_id, heard_ms,
                 audio.received_ms(item_id))
        turn = self.conversation.get(item_id)
        if ended is not None:  # the response ended while the device was dropping its queue
            self._end_assistant_turn(item_id, *ended)
        elif turn is not None and turn.status == "completed":  # the response had already finished arriving
            turn.status = "in_progress"
            self._end_assistant_turn(item_id, "cancelled")

    def cancel_was_ours(self) -> bool:
        """Whether a `response_cancel_not_active` error is just our cancel racing the response's own end."""
        return self._cancel_sent_for is not None

    def connection_lost(self) -> None:
        """Turns in flight when a connection dies are finished as incomplete; their audio may play out."""
        self._active_response = None
        self._user_speaking = False
        self._replay_pending = 0
        for turn in self.conversation.turns:
            if turn.role == "assistant" and not turn.done:
                self.conversation.finish(turn.item_id, "incomplete")
                self.emit(nt.AssistantTurnEnded(turn.item_id, "incomplete", turn.text))
            elif turn.role == "user" and not turn.done:
                self.conversation.finish(turn.item_id, "incomplete")

    def flush_warnings(self) -> None:
        self._warn.flush()

    @property
    def ignored(self) -> dict[str, int]:
        return self._warn.counts


def _capped(text: str) -> str:
    return text if len(text) <= MAX_TURN_CHARS else text[:MAX_TURN_CHARS] + CUT_NOTE
