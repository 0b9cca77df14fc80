"""What each server event does to the session's state: the receive side of `VoiceLiveSession`.

Handlers run on the loop, one event at a time; none awaits. A handler that fails is logged and the
session goes on: one bad event must never end a conversation.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable
from typing import Protocol

import numpy as np
import numpy.typing as npt

from app.conversation import Conversation, WordTime
from app.logs import OncePerKind
from app.protocol import client_events as ce
from app.protocol import events as ev
from app.protocol.session import SessionConfig
from app.voicelive import notices as nt
from app.voicelive.outbox import Outbox

log = logging.getLogger("app.voicelive.session")


class AudioOutput(Protocol):
    """What the session needs from playback (implemented by `app.audio.playback.PlaybackBuffer`)."""

    def write(self, item_id: str, pcm: npt.NDArray[np.int16]) -> None: ...
    def end_item(self, item_id: str) -> None: ...
    def request_flush(self) -> None: ...
    def played_ms(self, item_id: str) -> int: ...
    def received_ms(self, item_id: str) -> int: ...
    def is_playing(self, item_id: str | None = None) -> bool: ...


class SessionState:
    """The conversation state one session keeps across its connections, and the event handlers."""

    def __init__(self, config: SessionConfig, emit: Callable[[nt.Notice], None], *,
                 audio_out: AudioOutput | None, conversation: Conversation | None) -> None:
        self.config = config  # the live configuration (confirmed by the service)
        self.emit = emit
        self.audio_out = audio_out
        self.conversation = conversation or Conversation()
        self.outbox = Outbox()
        self.session_id: str | None = None
        self.expires_at: float | None = None
        self.frames_received = 0
        self._pending_updates: dict[str, SessionConfig] = {}
        self._active_response: str | None = None
        self._assistant_item: str | None = None  # the item whose audio is (or was last) playing
        self._interrupted: dict[str, int] = {}
        self._cancel_sent_for: str | None = None
        self._turn_ended_at: float | None = None  # when the user's last turn ended (for latency)
        self._first_audio_ms: dict[str, int] = {}
        self._user_speaking = False
        self._replay_pending = 0
        self._warn = OncePerKind(log)

    @property
    def busy(self) -> bool:
        """A reply is being generated or played, or the user is talking: not a moment to reconnect."""
        playing = self.audio_out is not None and self.audio_out.is_playing()
        return self._active_response is not None or self._user_speaking or playing

    # ------------------------------------------------------------------ what arrives
    def _handle_frame(self, frame: str | bytes) -> None:
        try:
            event = ev.parse_server_event(frame)
        except ev.ProtocolError as exc:
            self._warn.warn(exc.kind, str(exc))
            return
        if isinstance(event, ev.UnknownEvent):
            self._warn.warn(f"unknown event type {event.type}", "ignored")
            return
        handler = getattr(self, "_on_" + event.type.replace(".", "_"), None)
        if handler is None:
            return  # a known event this client has no use for (content parts, visemes, ...)
        try:
            handler(event)
        except Exception:  # one bad event must never end the session
            log.exception("handling %s failed", event.type)

    def _on_session_created(self, event: ev.SessionCreated) -> None:
        self.session_id = str(event.session.get("id", ""))
        expires = event.session.get("expires_at")
        self.expires_at = float(expires) if isinstance(expires, (int, float)) else None
        self.emit(nt.SessionStarted(self.session_id, str(event.session.get("model", ""))))

    def _on_session_updated(self, event: ev.SessionUpdated) -> None:
        config = self._pending_updates.pop(event.event_id or "", None) if event.event_id else None
        if config is None and self._pending_updates:  # servers need not echo our event id
            first = next(iter(self._pending_updates))
            config = self._pending_updates.pop(first)
        if config is None:
            try:
                config = SessionConfig.from_payload(event.session)
            except Exception:
                return
        self.config = config
        self.emit(nt.SessionApplied(config))

    def _on_error(self, event: ev.Error) -> None:
        err = event.error
        if err.code == "response_cancel_not_active" and self._cancel_sent_for is not None:
            return  # our cancel raced the response's own end: nothing to tell
        if err.event_id and err.event_id in self._pending_updates:
            self._pending_updates.pop(err.event_id)
            self.emit(nt.SessionRejected(err.message or "the service rejected the settings", err.param))
            return
        log.warning("service error %s: %s", err.code or err.type, err.message)
        self.emit(nt.ServiceError(err.message or "the service reported an error", err.code))

    def _on_warning(self, event: ev.Warning_) -> None:
        self.emit(nt.Info(event.warning.message, "warning"))

    def _on_input_audio_buffer_speech_started(self, event: ev.SpeechStarted) -> None:
        self._user_speaking = True
        td = self.config.turn_detection
        if td is None or td.interrupts_response:
            self._barge_in(send_cancel=False)
        self.emit(nt.SpeechStarted(event.item_id, event.audio_start_ms))

    def _on_input_audio_buffer_speech_stopped(self, event: ev.SpeechStopped) -> None:
        self._user_speaking = False
        self._turn_ended_at = time.monotonic()
        self.emit(nt.SpeechStopped(event.item_id, event.audio_end_ms))

    def _on_input_audio_buffer_committed(self, event: ev.InputAudioCommitted) -> None:
        if self.conversation.get(event.item_id) is None:
            self.conversation.add(event.item_id, "user")
            self.emit(nt.UserTurnAdded(event.item_id))

    def _on_conversation_item_created(self, event: ev.ItemCreated) -> None:
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
            text = " ".join(str(t) for t in texts)
            self.conversation.add(item_id, role, text, typed=True)
            self.conversation.finish(item_id)
            self.emit(nt.UserTurnAdded(item_id, text))
        else:
            self.conversation.add(item_id, role)
            self.emit(nt.UserTurnAdded(item_id))

    def _on_conversation_item_input_audio_transcription_delta(self, event: ev.TranscriptionDelta) -> None:
        turn = self.conversation.get(event.item_id)
        if turn is not None and event.delta:
            turn.text += event.delta
            self.emit(nt.UserTranscribed(event.item_id, turn.text, final=False))

    def _on_conversation_item_input_audio_transcription_completed(self, event: ev.TranscriptionCompleted) -> None:
        self.conversation.add(event.item_id, "user")
        self.conversation.finish(event.item_id, "completed", event.transcript)
        self.emit(nt.UserTranscribed(event.item_id, event.transcript))

    def _on_conversation_item_input_audio_transcription_failed(self, event: ev.TranscriptionFailed) -> None:
        self.conversation.finish(event.item_id, "completed")
        self.emit(nt.UserTranscribed(event.item_id, event.error.message, failed=True))

    def _on_response_created(self, event: ev.ResponseCreated) -> None:
        self._active_response = str(event.response.get("id") or "")
        self._cancel_sent_for = None

    def _on_response_output_item_added(self, event: ev.OutputItemAdded) -> None:
        item = event.item
        item_id = item.get("id")
        if item.get("type") == "message" and isinstance(item_id, str):
            self.conversation.add(item_id, "assistant")
            self._assistant_item = item_id
            self.emit(nt.AssistantTurnStarted(item_id, event.response_id))

    def _on_response_audio_transcript_delta(self, event: ev.AudioTranscriptDelta) -> None:
        self._assistant_delta(event.item_id, event.delta)

    def _on_response_text_delta(self, event: ev.TextDelta) -> None:
        self._assistant_delta(event.item_id, event.delta)

    def _assistant_delta(self, item_id: str, delta: str) -> None:
        turn = self.conversation.get(item_id)
        if turn is None:
            self._warn.warn("text for an unknown item", f"item {item_id}")
            return
        if turn.done or item_id in self._interrupted:
            return
        turn.text += delta
        self.emit(nt.AssistantTextDelta(item_id, delta))

    def _on_response_audio_delta(self, event: ev.AudioDelta) -> None:
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
        if self.audio_out is not None:
            self.audio_out.write(event.item_id, np.frombuffer(pcm, dtype="<i2"))

    def _on_response_audio_done(self, event: ev.AudioDone) -> None:
        if self.audio_out is not None:
            self.audio_out.end_item(event.item_id)

    def _on_response_audio_timestamp_delta(self, event: ev.AudioTimestampDelta) -> None:
        turn = self.conversation.get(event.item_id)
        if turn is not None:
            turn.words.append(WordTime(event.audio_offset_ms, event.audio_duration_ms, event.text))

    def _on_response_done(self, event: ev.ResponseDone) -> None:
        if self._active_response == event.response_id or event.response_id is None:
            self._active_response = None
        status = event.status or "completed"
        for turn in self.conversation.turns:  # a spoken turn whose transcript never came is still a turn
            if turn.role == "user" and not turn.done:
                self.conversation.finish(turn.item_id, "completed")
        if status == "cancelled" and self._assistant_item not in self._interrupted:
            self._barge_in(send_cancel=False)  # the server cancelled (turn detected): stop what still plays
        for item in event.response.get("output", []) or []:
            item_id = item.get("id") if isinstance(item, dict) else None
            if isinstance(item_id, str):
                self._end_assistant_turn(item_id, status)

    def _end_assistant_turn(self, item_id: str, status: str) -> None:
        turn = self.conversation.get(item_id)
        if turn is None or turn.role != "assistant" or turn.done:
            return
        interrupted = self._interrupted.get(item_id)
        if interrupted is not None:
            status = "cancelled"
            turn.interrupted_at_ms = interrupted
        self.conversation.finish(item_id, status)
        heard = turn.heard_text(interrupted) if interrupted is not None and turn.words else None
        audio_ms = self.audio_out.received_ms(item_id) if self.audio_out is not None else 0
        self.emit(nt.AssistantTurnEnded(item_id, status, turn.text, interrupted, heard,
                                        self._first_audio_ms.pop(item_id, None), audio_ms))

    def _on_conversation_item_truncated(self, event: ev.ItemTruncated) -> None:
        log.info("item %s truncated at %d ms", event.item_id, event.audio_end_ms)

    # ------------------------------------------------------------------ barge-in
    def _barge_in(self, *, send_cancel: bool) -> None:
        """Flush playback, cancel the response if asked and active, truncate the item at what was heard."""
        item_id = self._assistant_item
        playing = self.audio_out is not None and item_id is not None and self.audio_out.is_playing(item_id)
        if send_cancel and self._active_response:
            self._cancel_sent_for = self._active_response
            self.outbox.put_control(ce.ResponseCancel().to_json())
        if self.audio_out is None or item_id is None or item_id in self._interrupted:
            return
        turn = self.conversation.get(item_id)
        still_arriving = turn is not None and not turn.done
        if not playing and not still_arriving:
            return  # the reply was heard in full: nothing to truncate
        self.audio_out.request_flush()
        heard_ms = self.audio_out.played_ms(item_id)
        self._interrupted[item_id] = heard_ms
        self.outbox.put_control(ce.ItemTruncate(item_id=item_id, content_index=0, audio_end_ms=heard_ms).to_json())
        log.info("barge-in: item %s stopped at %d ms of %d ms received", item_id, heard_ms,
                 self.audio_out.received_ms(item_id))
        if turn is not None and turn.done:  # the response had already finished arriving
            turn.status = "in_progress"
            self._end_assistant_turn(item_id, "cancelled")

    def _connection_lost(self) -> None:
        """Turns in flight when a connection dies are finished as incomplete; their audio may play out."""
        self._active_response = None
        self._user_speaking = False
        if self._pending_updates:
            self._pending_updates.clear()
            self.emit(nt.SessionRejected("the connection was lost before the service confirmed the settings"))
        for turn in self.conversation.turns:
            if turn.role == "assistant" and not turn.done:
                self.conversation.finish(turn.item_id, "incomplete")
                self.emit(nt.AssistantTurnEnded(turn.item_id, "incomplete", turn.text))
            elif turn.role == "user" and not turn.done:
                self.conversation.finish(turn.item_id, "incomplete")
