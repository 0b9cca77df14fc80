"""The App: composes the conversation screen, owns the session worker, routes session notices to widgets.

Services (audio engine, emulator, credential) are handed in by the caller, so tests can pass real ones
wired to virtual devices or none at all.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from app.audio.devices import AudioUnavailable
from app.audio.engine import AudioEngine
from app.config import Settings
from app.emulator.server import EmulatorServer
from app.messages import AudioModeChanged, EndpointResolved, SessionNotice
from app.protocol.endpoint import EndpointError, host_of, realtime_url
from app.protocol.session import SessionConfig
from app.screens.conversation import ConversationScreen
from app.voicelive import notices as nt
from app.voicelive.auth import CredentialProvider, TokenCredential
from app.voicelive.session import VoiceLiveSession
from app.widgets.conversation_log import ConversationLog
from app.widgets.level_meter import LevelMeter
from app.widgets.prompt import MessagePrompt
from app.widgets.status_bar import StatusBar

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What the App runs on; built by the CLI, or by a test."""

    engine: AudioEngine | None = None
    emulator: EmulatorServer | None = None
    credential: TokenCredential | None = None
    audio_error: str | None = None  # why there is no engine, when there is none


class VoiceLiveApp(App[int]):
    CSS_PATH = "styles.tcss"
    TITLE = "voicelive-tui"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="quit-ctrl"),
        Binding("a", "reopen_audio", "Reopen audio", show=False, id="reopen-audio"),
    ]

    def __init__(self, settings: Settings, services: Services | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.services = services or Services()
        self.session: VoiceLiveSession | None = None
        self._quitting = False
        self._ever_connected = False
        self._audio_ok = False
        self._silence_reported = False

    # ------------------------------------------------------------------ start-up
    def on_mount(self) -> None:
        engine = self.services.engine
        screen = ConversationScreen(engine.input_level if engine else None, engine.output_level if engine else None)
        self.push_screen(screen)
        if self.settings.keys:
            self.set_keymap(self.settings.keys)
        self.start_session()
        self.set_interval(0.5, self._check_audio)

    @property
    def log_view(self) -> ConversationLog:
        return self.screen.query_one(ConversationLog)

    @property
    def status(self) -> StatusBar:
        return self.screen.query_one(StatusBar)

    @work(exclusive=True, group="session", name="session", exit_on_error=False)
    async def start_session(self) -> None:
        """Start the emulator (if local) and the audio, then run the session until it ends.

        A worker: it reports through messages and never touches a widget.
        """
        conn = self.settings.connection
        emulator = self.services.emulator
        if emulator is not None and not emulator.port:
            await emulator.start()
        endpoint = emulator.endpoint if emulator is not None else (conn.endpoint or "")
        api_key = emulator.api_key if emulator is not None else (
            conn.api_key.get_secret_value() if conn.api_key and conn.auth_mode == "key" else None)
        try:
            url = realtime_url(endpoint, api_version=conn.api_version, model=conn.model)
        except EndpointError as exc:
            self.exit(return_code=2, message=str(exc))
            return
        credentials = CredentialProvider(api_key=api_key, credential=self.services.credential, scope=conn.token_scope)
        session = self.session = VoiceLiveSession(
            url, credentials, self.settings.session, self._emit, api_version=conn.api_version,
            audio_out=self.services.engine.playback if self.services.engine else None,
        )
        self.post_message(EndpointResolved(host_of(url), emulator is not None))
        self._start_audio(session)
        try:
            await session.run()
        finally:
            await credentials.close()

    def _start_audio(self, session: VoiceLiveSession) -> None:
        """Open the devices (again); on failure the session goes on in text mode."""
        engine = self.services.engine
        reason = self.services.audio_error
        if engine is not None:
            try:
                engine.start(asyncio.get_running_loop(), session.submit_audio)
                session.audio_out = engine.playback
                reason = None
            except AudioUnavailable as exc:
                reason = str(exc)
                session.audio_out = None
        elif reason is None:
            reason = "Audio is off: running in text mode (press t to type)."
        self._audio_ok = reason is None
        self.post_message(AudioModeChanged(reason, engine.notes if engine and reason is None else []))

    def _check_audio(self) -> None:
        """Polled: a device that died mid-session, or a microphone that only delivers digital zeros."""
        engine = self.services.engine
        if engine is None or not self._audio_ok:
            return
        if engine.failure:
            failure = engine.failure
            engine.stop()
            if self.session is not None:
                self.session.audio_out = None
            self._audio_ok = False
            self.post_message(AudioModeChanged(f"{failure} Running in text mode; press a to reopen the devices."))
        elif engine.silence.tripped and not self._silence_reported:
            self._silence_reported = True
            self.post_message(AudioModeChanged(None, [
                "The microphone is delivering pure digital silence: check permissions or the mute switch."]))

    def action_reopen_audio(self) -> None:
        if self.session is None or self.services.engine is None:
            self.notify("Audio is off for this session (--no-audio).", severity="warning")
            return
        self.services.engine.stop()
        self._silence_reported = False
        self.services.engine.silence.tripped = False
        self._start_audio(self.session)

    def on_endpoint_resolved(self, message: EndpointResolved) -> None:
        status = self.status
        status.host, status.local, status.model = message.host, message.local, self.settings.connection.model
        self._show_session(self.settings.session)

    async def on_audio_mode_changed(self, message: AudioModeChanged) -> None:
        if message.reason:
            self.status.audio = "text mode"
            await self.log_view.add_notice(message.reason, "warning")
        elif not message.notes:
            self.status.audio = "audio"
        for note in message.notes:
            await self.log_view.add_notice(note)

    def _show_session(self, config: SessionConfig) -> None:
        status = self.status
        status.voice = config.voice.name
        td = config.turn_detection
        status.vad = f"{td.type} {td.threshold:.2f}" if td else "VAD off"
        self.screen.query_one("#mic-meter", LevelMeter).threshold = td.threshold if td else None

    def _emit(self, notice: nt.Notice) -> None:
        self.post_message(SessionNotice(notice))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name == "session" and event.state == WorkerState.ERROR:
            error = event.worker.error
            log.error("the session worker failed", exc_info=error)
            self.notify(f"The session stopped on an unexpected error ({type(error).__name__}); see the log.",
                        severity="error")

    # ------------------------------------------------------------------ notices from the session
    async def on_session_notice(self, message: SessionNotice) -> None:
        notice = message.notice
        view = self.log_view
        match notice:
            case nt.ConnectionChanged(state=state, detail=detail):
                self.status.state, self.status.detail = state, detail
                if state == "connected":
                    self._ever_connected = True
                elif state == "failed" and not self._ever_connected and not self._quitting:
                    await self._close_services()
                    self.exit(return_code=2, message=detail)
                elif state in ("failed", "closed") and detail and not self._quitting:
                    await view.add_notice(detail, "error")
            case nt.SessionApplied(config=config):
                self._show_session(config)
            case nt.SessionRejected(message=text, param=param):
                await view.add_notice(f"Settings rejected{f' ({param})' if param else ''}: {text}", "error")
            case nt.SpeechStarted():
                self.screen.query_one("#mic-meter", LevelMeter).speaking = True
            case nt.SpeechStopped():
                self.screen.query_one("#mic-meter", LevelMeter).speaking = False
            case nt.UserTurnAdded(item_id=item_id, text=text):
                await view.add_user(item_id, text, typed=text is not None)
            case nt.UserTranscribed(item_id=item_id, text=text, final=final, failed=failed):
                user_turn = view.user_turn(item_id) or await view.add_user(item_id, None)
                shown = f"(transcription failed: {text})" if failed else text
                user_turn.set_text(shown, final=final, failed=failed)
                view.follow()
            case nt.AssistantTurnStarted(item_id=item_id):
                await view.add_assistant(item_id)
            case nt.AssistantTextDelta(item_id=item_id, delta=delta):
                reply = view.assistant_turn(item_id) or await view.add_assistant(item_id)
                await reply.append(delta)
                view.follow()
            case nt.AssistantTurnEnded(item_id=item_id, status=status, text=text, interrupted_at_ms=at,
                                       heard_text=heard):
                reply = view.assistant_turn(item_id) or await view.add_assistant(item_id)
                await reply.finish(status=status, interrupted_at_ms=at, heard_text=heard, full_text=text)
                view.follow()
            case nt.ServiceError(message=text, code=code):
                await view.add_notice(f"Service error{f' ({code})' if code else ''}: {text}", "error")
            case nt.Info(message=text, level=level):
                await view.add_notice(text, level)
            case _:
                pass

    # ------------------------------------------------------------------ actions
    def action_toggle_mute(self) -> None:
        muted = not self.status.muted
        self.status.muted = muted
        self.screen.query_one("#mic-meter", LevelMeter).muted = muted
        if self.services.engine is not None:
            self.services.engine.muted = muted
        if self.session is not None:
            self.session.set_muted(muted)

    def action_interrupt(self) -> None:
        if self.session is not None:
            self.session.interrupt()

    def on_message_prompt_sent(self, message: MessagePrompt.Sent) -> None:
        if self.session is not None:
            self.session.send_text(message.text)

    async def action_quit(self) -> None:
        await self._close_services()
        self.exit(0)

    async def _close_services(self) -> None:
        """Close the socket with 1000, stop the streams and the emulator; bounded so quitting stays fast."""
        if self._quitting:
            return
        self._quitting = True
        if self.session is not None:
            try:
                await asyncio.wait_for(self.session.close(), timeout=0.5)
            except (asyncio.TimeoutError, Exception):
                log.warning("closing the socket took too long; leaving anyway")
        if self.services.engine is not None:
            self.services.engine.stop()
        if self.services.emulator is not None:
            try:
                await asyncio.wait_for(self.services.emulator.stop(), timeout=0.5)
            except (asyncio.TimeoutError, Exception):
                log.warning("stopping the emulator took too long; leaving anyway")
        for handler in logging.getLogger().handlers:
            handler.flush()

    async def on_unmount(self) -> None:
        await self._close_services()
