"""`VoiceLiveSession`: the one owner of a conversation with the service and of its state.

It owns the connection state, the desired and confirmed configuration (`ConfigSync`), mute, push-to-talk,
the attached audio and the turn timeline; it wires a `ConnectionLoop` (sockets, reconnects), a
`ConversationTracker` (turns and barge-in), an `Outbox` (frame order), `PushToTalk` (manual turns), a
`Timeline` (what each turn took) and, when the user has tools, a `ToolBridge` (function calls, MCP
approvals). The UI changes it only through commands — `request`, `set_muted`, `talk_start` / `talk_end`,
`attach_audio` / `detach_audio`, `send_text`, `interrupt`, `answer_approval`, `reconnect`, `close` — and
learns what happened only through the notices it emits. The audio engine also reports local speech
(`local_speech`) and hands over microphone blocks (`submit_audio`). A plain class with no Textual: it runs on
whatever loop calls `run()` (its own thread in the app, see `SessionThread`; the test's loop in tests),
and every command must be called on that loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

from app.conversation import Conversation
from app.logs import WarningLimiter
from app.protocol import client_events as ce
from app.protocol import events as ev
from app.protocol.session import SessionConfig, TurnDetection, agent_payload
from app.tools.dispatch import ToolDispatch
from app.voicelive import notices as nt
from app.voicelive.auth import CredentialProvider
from app.voicelive.config_sync import ConfigChange, ConfigOutcome, ConfigSync
from app.voicelive.connection_loop import ConnectionHooks, ConnectionLoop
from app.voicelive.conversation_tracker import AudioOutput, ConversationTracker
from app.voicelive.local_speech import LocalSpeechEvent
from app.voicelive.outbox import Outbox
from app.voicelive.push_to_talk import PushToTalk, refusal_sentence
from app.voicelive.reconnect import ReconnectPolicy
from app.voicelive.tool_bridge import ToolBridge
from app.voicelive.turn_metrics import TurnMetrics

log = logging.getLogger(__name__)
__all__ = ["AudioDevice", "AudioOutput", "VoiceLiveSession"]
ERROR_REPEAT_WINDOW_S = 30.0  # the same error again within this long is counted on the same line
ERROR_REPEAT_EMIT_S = 0.25  # ...and the UI hears about the count at most this often
PTT_OFF_HINT = "Push-to-talk is off: turn detection ends your turns. Choose \"off (push to talk)\" in settings (s)."


class AudioDevice(Protocol):
    """Audio the session can attach: a playback output, a mute the capture side obeys, and how talking over
    a reply is handled ("duck" / "service" / "local-cut": with local-cut the session interrupts at once)."""

    playback: Any  # an AudioOutput (a settable attribute in a Protocol cannot narrow it further)
    muted: bool

    @property
    def barge_in_mode(self) -> str: ...


class VoiceLiveSession:
    def __init__(self, config: SessionConfig, emit: Callable[[nt.Notice], None], *, api_version: str | None = None,
                 conversation: Conversation | None = None, muted: bool = False,
                 policy: ReconnectPolicy | None = None, planned_margin_s: float = 60.0,
                 tools: ToolDispatch | None = None, agent: bool = False) -> None:
        self.emit = emit
        self.api_version = api_version
        self.agent = agent  # a Foundry agent holds its own instructions: they are not sent
        self.conversation = conversation or Conversation()
        self.state = "idle"
        self.session_id: str | None = None
        self.muted = muted
        self.outbox = Outbox()
        self.push_to_talk = PushToTalk(self.outbox)
        self.push_to_talk.enabled = config.turn_detection is None
        self.config = ConfigSync(config, send=self._send_update, changed=self._config_changed)
        self.metrics = TurnMetrics(emit, self._live_turn_detection, audio=lambda: self.tracker.audio)
        self.tracker = ConversationTracker(self.outbox, self._observe, conversation=self.conversation,
                                           interrupts_on_speech=self._interrupts_on_speech)
        self.connection = ConnectionLoop(self.outbox, ConnectionHooks(
            state=self._connection_state, opened=self._opened, frame=self.handle_frame,
            lost=self._lost, busy=lambda: self.tracker.busy, expires_at=lambda: self._expires_at,
        ), policy=policy, planned_margin_s=planned_margin_s)
        self.tools = ToolBridge(tools, self.outbox, emit, self.conversation) if tools is not None else None
        self._device: AudioDevice | None = None
        self._heard_speaking = False  # the engine's last local speech event was a start
        self._update_audio_gate()
        self._expires_at: float | None = None
        self._event_seq = 0
        self._warn = WarningLimiter(log)
        self._last_error: tuple[str, str] | None = None
        self._error_repeats = 0
        self._error_seen_at = 0.0
        self._error_emit: asyncio.TimerHandle | None = None
        self._handlers: dict[str, Callable[[Any], None]] = {
            "session.created": self._on_created, "session.updated": self._on_updated,
            "error": self._on_error, "warning": self._on_warning,
            "input_audio_buffer.committed": self._on_committed,
        }

    # ------------------------------------------------------------------ commands
    def request(self, change: ConfigChange) -> Future[ConfigOutcome]:
        """Change the configuration, composing on the last requested one; resolves when the service decides."""
        return self.config.request(change)

    def set_muted(self, muted: bool) -> None:
        """Stop (or resume) sending the microphone; the capture side drops blocks, the meter still shows them."""
        self.muted = muted
        self._update_audio_gate()
        if self._device is not None:
            self._device.muted = muted
        self.emit(nt.MuteChanged(muted))

    def attach_audio(self, device: AudioDevice) -> None:
        """Reply audio plays through `device` from now on, and it obeys this session's mute."""
        device.muted = self.muted
        self._device = device
        self.tracker.attach(device.playback)

    def detach_audio(self) -> None:
        self._device = None
        self._heard_speaking = False  # no engine, no more local speech events: not stuck "talking"
        self.tracker.attach(None)

    def send_text(self, text: str) -> None:
        """A typed user turn, answered like a spoken one; sent after a reconnect if the socket is down."""
        text = text.strip()
        if not text:
            return
        self.interrupt()
        self.tracker.text_sent()
        self.outbox.put(ce.ItemCreate(item=ce.user_text_item(text)).to_json(), durable=True)
        self.outbox.put(ce.ResponseCreate().to_json(), durable=True)

    def interrupt(self) -> None:
        """Stop the assistant now: flush playback, cancel the response, truncate what was not heard."""
        self.tracker.barge_in(send_cancel=True)

    def answer_approval(self, request_id: str, approve: bool) -> None:
        """The user's yes or no to a `ToolApprovalRequested`; a withdrawn or unknown request is ignored."""
        if self.tools is not None:
            self.tools.answer(request_id, approve)

    def talk_start(self) -> None:
        """The talk key went down (push-to-talk): stop a playing reply, clear the input buffer, send the mic."""
        if not self.push_to_talk.enabled:
            self.emit(nt.Info(PTT_OFF_HINT))
            return
        self.interrupt()
        if self.push_to_talk.start():
            self._update_audio_gate()
            self.metrics.talk_started()
            self.emit(nt.TalkChanged(True, True))

    def talk_end(self) -> None:
        """The talk key came up (or was pressed again): commit the turn; the reply is requested once committed."""
        if self.push_to_talk.end():
            self._update_audio_gate()
            self.metrics.talk_ended()
            self.emit(nt.TalkChanged(True, False))

    def submit_audio(self, block: bytes) -> None:
        """A captured block, 10 or 20 ms (handed over with call_soon_threadsafe from the audio thread)."""
        self.outbox.put_audio(block)
        self.metrics.microphone_block(block)

    def local_speech(self, event: LocalSpeechEvent) -> None:
        """The audio engine heard the user start or stop speaking (call_soon_threadsafe from its thread).

        From the first such event on, the session stops deriving speech from the blocks itself. In
        "local-cut" mode, speech heard over a playing reply stops it now, without waiting for the service.
        """
        self.metrics.local_speech(event, from_engine=True)
        self._heard_speaking = event.kind == "start"
        device = self._device
        if event.kind == "start" and event.during_playback and device is not None \
                and device.barge_in_mode == "local-cut":
            self.interrupt()

    def reconnect(self) -> None:
        self.connection.reconnect_now()

    @property
    def audible(self) -> bool:
        """A reply is playing at the speaker (a full collection then would be heard as a gap)."""
        return self.tracker.audible

    @property
    def quiet(self) -> bool:
        """Nobody is talking and nothing is being generated or played: a pause costs nothing heard."""
        return not (self.tracker.busy or self._heard_speaking or self.push_to_talk.talking)

    def announce(self) -> None:
        """Tell the owner the whole state once, before anything happens (it may start muted, say)."""
        self._connection_state(self.state, "", 0)
        self.emit(nt.MuteChanged(self.muted))
        self._config_changed()
        self.emit(nt.TalkChanged(self.push_to_talk.enabled, self.push_to_talk.talking))

    async def run(self, url: str, credentials: CredentialProvider) -> None:
        """Stay connected until closed or out of attempts; may be called again after it ends."""
        await self.connection.run(url, credentials)

    async def close(self) -> None:
        await self.connection.close()
        if self.tools is not None:
            await self.tools.close()
        self._warn.flush()  # what was held back is said once, with its count
        self.tracker.flush_warnings()

    @property
    def running(self) -> bool:
        return self.connection.running

    # ------------------------------------------------------------------ the connection's life
    def _connection_state(self, state: str, detail: str, attempt: int) -> None:
        self.state = state
        self.emit(nt.ConnectionChanged(state, detail, attempt))

    def _opened(self) -> None:
        """A new socket: the configuration first, then the conversation so far, then what waited."""
        self.outbox.begin_connection()
        self.config.connected()  # queues the session.update
        items = self.conversation.replay_items()
        for item in items:
            self.outbox.put(ce.ItemCreate(item=item).to_json())
        self.tracker.expect_replay(len(items))
        self.outbox.end_preamble()
        if items:
            log.info("replaying %d conversation items into the new connection", len(items))

    def _lost(self) -> None:
        self.config.disconnected()
        self.tracker.connection_lost()
        if self.tools is not None:
            self.tools.connection_lost()
        if self.push_to_talk.talking:
            self.emit(nt.TalkChanged(True, False))
        self.push_to_talk.stop()
        self._update_audio_gate()

    def _send_update(self, config: SessionConfig) -> str:
        self._event_seq += 1
        event_id = f"update_{self._event_seq}"
        payload = config.to_payload(self.api_version)
        if self.agent:
            payload = agent_payload(payload)
        self.outbox.put(ce.SessionUpdate(event_id=event_id, session=payload).to_json())
        return event_id

    def _config_changed(self) -> None:
        self.emit(nt.ConfigChanged(self.config.desired, self.config.confirmed, self.config.pending))
        manual = self.config.desired.turn_detection is None
        if manual != self.push_to_talk.enabled:
            self.push_to_talk.enabled = manual
            self.push_to_talk.stop()
            self._update_audio_gate()
            self.emit(nt.TalkChanged(manual, False))

    def _update_audio_gate(self) -> None:
        """The microphone goes to the service unless muted, or, with push-to-talk, unless the key is up."""
        ptt = self.push_to_talk
        self.outbox.accepting_audio = not self.muted and (not ptt.enabled or ptt.talking)
        if not self.outbox.accepting_audio:
            self.outbox.clear_audio()

    def _interrupts_on_speech(self) -> bool:
        """Barge-in on the service's VAD; with push-to-talk there is none (starting to talk interrupts)."""
        td = self._live_turn_detection()
        return td is not None and td.interrupts_response

    def _live_turn_detection(self) -> TurnDetection | None:
        return (self.config.confirmed or self.config.desired).turn_detection

    def _observe(self, notice: nt.Notice) -> None:
        """Every conversation notice goes out through here; the turn metrics learn from it on the way."""
        self.emit(notice)
        self.metrics.observe(notice)

    # ------------------------------------------------------------------ what arrives
    def handle_frame(self, frame: str | bytes) -> None:
        """One frame from the service. Nothing in it may end the session: whatever fails is logged once."""
        try:
            event = ev.parse_server_event(frame)
        except ev.ProtocolError as exc:
            self._warn.warn(f"malformed frame: {exc.kind}", str(exc))
            return
        except Exception as exc:  # RecursionError from deeply nested JSON, MemoryError, ...
            self._warn.warn("unreadable frame", type(exc).__name__)
            return
        if isinstance(event, ev.UnknownEvent):
            self._warn.warn("unknown event type", event.type[:80])
            return
        handler = self._handlers.get(event.type) or self.tracker.handlers.get(event.type)
        if handler is not None:  # else a known event this client has no use for (content parts, visemes, ...)
            try:
                handler(event)
            except Exception:  # one bad event must never end the session
                if self._warn.warn("handling an event failed", event.type):
                    log.exception("handling %s failed", event.type)
        if self.tools is not None:
            self.tools.handle(event)  # function calls, MCP progress and approvals (it never raises)

    def _on_created(self, event: ev.SessionCreated) -> None:
        self.session_id = str(event.session.get("id", ""))
        expires = event.session.get("expires_at")
        self._expires_at = float(expires) if isinstance(expires, (int, float)) else None
        if self._expires_at is not None and not (math.isfinite(self._expires_at) and self._expires_at > time.time()):
            # Already past by our clock (one of the clocks is wrong): a planned reconnect would come at once,
            # and again on the next connection. Without it the service's own close ends the session.
            log.warning("the session's expiry time (%s) is not in the future by this machine's clock; "
                        "no planned reconnect", expires)
            self._expires_at = None
        agent = event.session.get("agent")
        name = agent.get("name") if isinstance(agent, dict) else None
        self.emit(nt.SessionStarted(self.session_id, str(event.session.get("model", "")),
                                    str(name) if name else None))

    def _on_updated(self, event: ev.SessionUpdated) -> None:
        self.config.updated(event.event_id)

    def _on_committed(self, event: ev.InputAudioCommitted) -> None:
        self.tracker.handlers[event.type](event)
        self.push_to_talk.committed()

    def _on_error(self, event: ev.Error) -> None:
        err = event.error
        if err.code == "response_cancel_not_active" and self.tracker.cancel_was_ours():
            return  # our cancel raced the response's own end: nothing to tell
        if self.push_to_talk.refused(err):
            log.info("the service refused a push-to-talk commit: %s", err.message)
            self.emit(nt.Info(refusal_sentence(err), "warning"))
            return
        message = err.message or "the service reported an error"
        our_update = err.event_id if err.event_id is not None else (
            self.config.in_flight_id if (err.param or "").startswith("session") else None)
        if our_update is not None and self.config.refused(our_update, message):
            log.warning("the service refused the settings (%s): %s", err.param, message)
            self.emit(nt.SessionRejected(message, err.param))
            return
        self._service_error(message, err.code or err.type)

    def _service_error(self, message: str, code: str | None) -> None:
        """Show an error; the same one again soon after is counted on its line, not added (a flood stays one line)."""
        key = (code or "", message)
        now = time.monotonic()
        if key == self._last_error and now - self._error_seen_at < ERROR_REPEAT_WINDOW_S:
            self._error_repeats += 1
            self._error_seen_at = now
            if self._error_emit is None:
                self._error_emit = asyncio.get_running_loop().call_later(ERROR_REPEAT_EMIT_S, self._emit_repeats)
            return
        self._emit_repeats()
        self._last_error, self._error_repeats, self._error_seen_at = key, 1, now
        log.warning("service error %s: %s", code, message)
        self.emit(nt.ServiceError(message, code))

    def _emit_repeats(self) -> None:
        if self._error_emit is not None:
            self._error_emit.cancel()
            self._error_emit = None
        if self._last_error is not None and self._error_repeats > 1:
            code, message = self._last_error
            log.warning("service error %s repeated: ×%d", code, self._error_repeats)
            self.emit(nt.ServiceError(message, code or None, self._error_repeats))

    def _on_warning(self, event: ev.Warning_) -> None:
        self.emit(nt.Info(event.warning.message, "warning"))

    # ------------------------------------------------------------------ introspection
    def stats(self) -> dict[str, Any]:
        return {
            "frames_received": self.connection.frames_received,
            "dropped_audio_blocks": self.outbox.dropped_audio_blocks,
            "dropped_stale_frames": self.outbox.dropped_stale_frames,
            "connections": self.connection.connections,
            "config_updates_sent": self.config.updates_sent,
            "ignored": {**self._warn.counts, **self.tracker.ignored},
        }

