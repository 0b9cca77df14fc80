"""The App: owns the services and the session worker, routes session notices, carries out requests.

Services (audio engine, emulator, credential) are handed in by the caller, so tests can pass real ones
wired to virtual devices, or none. The conversation screen renders; the App decides.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from app.audio.devices import AudioUnavailable
from app.audio.engine import AudioEngine
from app.config import AudioSettings, Settings, save_settings
from app.conversation import Conversation
from app.emulator.server import EmulatorServer
from app.export import to_jsonl, to_markdown, transcripts_dir, write_atomic
from app.messages import AudioModeChanged, EndpointResolved, SessionNotice
from app.protocol.endpoint import EndpointError, host_of, realtime_url
from app.protocol.session import SessionConfig
from app.screens.conversation import ConversationScreen
from app.screens.help import LONG, HelpScreen
from app.screens.palette import palette_commands
from app.screens.settings import SettingsScreen
from app.voicelive import notices as nt
from app.voicelive.auth import CredentialProvider, TokenCredential
from app.voicelive.session import VoiceLiveSession
from app.widgets.prompt import MessagePrompt

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What the App runs on; built by the CLI, or by a test."""

    engine: AudioEngine | None = None
    emulator: EmulatorServer | None = None
    credential: TokenCredential | None = None
    audio_error: str | None = None  # why there is no engine, when there is none
    autostart: bool = True  # tests that drive the UI with synthetic notices switch the session off
    transcript_dir: str | None = None


class VoiceLiveApp(App[int]):
    CSS_PATH = "styles.tcss"
    TITLE = "voicelive-tui"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="quit-ctrl"),
        Binding("a", "reopen_audio", "Reopen audio", show=False, id="reopen-audio"),
        Binding("r", "reconnect", "Reconnect", show=False, id="reconnect"),
    ]

    def __init__(self, settings: Settings, services: Services | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.services = services or Services()
        self.session: VoiceLiveSession | None = None
        folder = Path(self.services.transcript_dir) if self.services.transcript_dir else transcripts_dir()
        self.transcript_path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
        self.conversation = Conversation(self.transcript_path)
        self.conversation_screen: ConversationScreen | None = None
        self.muted = settings.audio.muted
        self._quitting = False
        self._ever_connected = False
        self._audio_ok = False
        self._silence_reported = False

    # ------------------------------------------------------------------ start-up
    def on_mount(self) -> None:
        engine = self.services.engine
        self.conversation_screen = ConversationScreen(
            engine.input_level if engine else None, engine.output_level if engine else None, self.settings.session)
        self.push_screen(self.conversation_screen)
        if self.settings.keys:
            self.set_keymap(self.settings.keys)
        if self.services.autostart:
            self.start_session()
        self.set_interval(0.5, self._check_audio)
        self.call_after_refresh(self._freeze_startup_objects)

    @staticmethod
    def _freeze_startup_objects() -> None:
        """The audio callbacks need the GIL every 20 ms; a full garbage collection that walks every object
        made at start-up (Textual, pydantic, numpy) can hold it long enough for the sound card to run dry.
        Freezing them takes them out of every later collection."""
        gc.collect()
        gc.freeze()

    @property
    def main(self) -> ConversationScreen:
        assert self.conversation_screen is not None
        return self.conversation_screen

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
            conversation=self.conversation,
        )
        session.set_muted(self.muted)
        self.post_message(EndpointResolved(host_of(url), emulator is not None))
        self._start_audio(session)
        try:
            await session.run()
        finally:
            await credentials.close()

    def _emit(self, notice: nt.Notice) -> None:
        self.post_message(SessionNotice(notice))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name == "session" and event.state == WorkerState.ERROR:
            error = event.worker.error
            log.error("the session worker failed", exc_info=error)
            self.notify(f"The session stopped on an unexpected error ({type(error).__name__}); see the log.",
                        severity="error")

    # ------------------------------------------------------------------ audio
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

    # ------------------------------------------------------------------ messages
    def on_endpoint_resolved(self, message: EndpointResolved) -> None:
        if self._quitting:
            return
        status = self.main.status
        status.host, status.local, status.model = message.host, message.local, self.settings.connection.model

    async def on_audio_mode_changed(self, message: AudioModeChanged) -> None:
        if self._quitting:
            return
        status = self.main.status
        if message.reason:
            status.audio = "text mode"
            await self.main.log_view.add_notice(message.reason, "warning")
        elif not message.notes:
            status.audio = "audio"
        for note in message.notes:
            await self.main.log_view.add_notice(note)

    async def on_session_notice(self, message: SessionNotice) -> None:
        notice = message.notice
        if self._quitting:  # the screen is being taken down: late notices have nowhere to go
            return
        if isinstance(notice, nt.ConnectionChanged):
            if notice.state == "connected":
                self._ever_connected = True
            elif notice.state == "failed" and not self._ever_connected and not self._quitting:
                await self._close_services()
                self.exit(return_code=2, message=notice.detail)
                return
        elif isinstance(notice, nt.SessionApplied):
            self.settings.session = notice.config
            if isinstance(self.screen, SettingsScreen):
                self.screen.confirmed(notice.config, self.settings.audio)
        elif isinstance(notice, nt.SessionRejected) and isinstance(self.screen, SettingsScreen):
            self.screen.rejected(notice.message + (f" ({notice.param})" if notice.param else ""))
        await self.main.show(notice)

    def on_message_prompt_sent(self, message: MessagePrompt.Sent) -> None:
        if self.session is not None:
            self.session.send_text(message.text)

    # ------------------------------------------------------------------ settings
    def action_open_settings(self) -> None:
        live = self.session.config if self.session is not None else self.settings.session
        self.push_screen(SettingsScreen(live, self.settings.audio))

    def _apply_audio(self, audio: AudioSettings) -> None:
        old, self.settings.audio = self.settings.audio, audio
        engine = self.services.engine
        if engine is None:
            return
        engine.playback.set_jitter_ms(audio.jitter_ms)
        engine.echo_gate = audio.echo_gate
        if (audio.input_device, audio.output_device) != (old.input_device, old.output_device):
            engine.input_device, engine.output_device = audio.input_device, audio.output_device
            self.action_reopen_audio()

    def _request_session(self, config: SessionConfig) -> bool:
        """Send a configuration; True if a confirmation will follow, False if it applied locally."""
        if self.session is None or self.main.status.state != "connected":
            self.settings.session = config
            if self.session is not None:
                self.session.config = config
            self.main.show_config(config)
            return False
        self.session.update_session(config)
        return True

    def on_settings_screen_apply_requested(self, message: SettingsScreen.ApplyRequested) -> None:
        screen = message.control if isinstance(message.control, SettingsScreen) else self.screen
        self._apply_audio(message.audio)
        live = self.session.config if self.session is not None else self.settings.session
        confirmed_now = message.session == live or not self._request_session(message.session)
        if confirmed_now and isinstance(screen, SettingsScreen):
            screen.confirmed(message.session, message.audio)
        if isinstance(message, SettingsScreen.SaveRequested):
            saved = save_settings(self.settings.model_copy(update={"session": message.session}))
            self.notify(f"Saved to {saved}", title="Settings")

    def on_settings_screen_save_requested(self, message: SettingsScreen.SaveRequested) -> None:
        self.on_settings_screen_apply_requested(message)

    def action_nudge_threshold(self, delta: float) -> None:
        self._nudge("threshold", delta, 0.0, 1.0)

    def action_nudge_silence(self, delta: int) -> None:
        self._nudge("silence_duration_ms", delta, 0, 10000)

    def _nudge(self, field: str, delta: float, low: float, high: float) -> None:
        """Change one turn-detection value live, without opening the settings screen."""
        live = self.session.config if self.session is not None else self.settings.session
        td = live.turn_detection
        if td is None:
            self.notify("Turn detection is off; turn it on in settings (s).", severity="warning")
            return
        value = min(high, max(low, round(getattr(td, field) + delta, 2)))
        if isinstance(delta, int):
            value = int(value)
        config = live.model_copy(update={"turn_detection": td.model_copy(update={field: value})})
        if not self._request_session(config):
            return
        label = "threshold" if field == "threshold" else "silence"
        self.notify(f"Turn detection {label} → {value}", timeout=2)

    # ------------------------------------------------------------------ other actions
    def action_toggle_mute(self) -> None:
        muted = self.muted = not self.muted
        self.main.status.muted = muted
        self.main.mic_meter.muted = muted
        if self.services.engine is not None:
            self.services.engine.muted = muted
        if self.session is not None:
            self.session.set_muted(muted)

    def action_interrupt(self) -> None:
        if self.session is not None:
            self.session.interrupt()

    def action_help(self) -> None:
        rows: list[tuple[str, str]] = []
        seen: set[str] = set()
        for active in self.main.active_bindings.values():
            binding = active.binding
            if binding.id is None or binding.id in seen:  # Textual's own scrolling keys are not ours to list
                continue
            seen.add(binding.id)
            rows.append((self.get_key_display(binding), LONG.get(binding.id, binding.description or binding.action)))
        rows += [("escape", "Leave the message prompt"),
                 ("ctrl+p", "Command palette: every action, theme, export")]
        self.push_screen(HelpScreen(rows))

    def action_export(self, kind: str) -> None:
        stem = self.transcript_path.with_suffix("")
        if kind == "markdown":
            path = write_atomic(stem.with_name(stem.name + "-export.md"), to_markdown(self.conversation))
        else:
            path = write_atomic(stem.with_name(stem.name + "-export.jsonl"), to_jsonl(self.conversation))
        self.notify(f"Transcript written to {path}", title="Export")

    async def action_clear_log(self) -> None:
        await self.main.log_view.clear()

    def action_switch_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    async def action_reconnect(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self.services.engine is not None:
            self.services.engine.stop()
        self.start_session()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from palette_commands(self)

    def _fatal_error(self) -> None:
        """An unexpected exception: the details go to the (redacted) log, the terminal gets one sentence.

        Textual's default prints a traceback with local variables, which could include a key or token.
        """
        error = self._exception
        log.critical("unexpected error", exc_info=error)
        name = type(error).__name__ if error is not None else "error"
        self._exit_renderables.append(
            f"voicelive-tui stopped on an unexpected error ({name}); the details are in the log file.")
        self._close_messages_no_wait()

    # ------------------------------------------------------------------ quitting
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
