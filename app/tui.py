"""The App: wires the services together, starts and stops them, and decides when the program ends.

Services (audio engine, emulator, credential) are handed in by the caller, so tests pass real ones wired
to virtual devices, or none. The session owns the conversation's state on its own thread; the audio
controller owns the devices; the conversation screen shows what they report and turns keys into
commands. What is left here is their lifecycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.driver import Driver
from textual.screen import Screen

from app.audio_control import AudioController
from app.config import Settings
from app.conversation import Conversation
from app.export import ExportKind, export_path, export_text, transcripts_dir, write_export
from app.files import WriteError
from app.gc_pacer import CollectionPacer, freeze_startup_objects, thaw
from app.hot_keys import HotKeys, hot_interrupt_keys, with_hot_keys
from app.messages import AudioModeChanged, ConnectionStateChanged, EndpointResolved, message_for
from app.presets import PresetBook
from app.protocol.endpoint import EndpointError, host_of
from app.screens.conversation import ConversationScreen
from app.screens.palette import palette_commands
from app.services import Services
from app.settings_saver import SettingsSaver
from app.startup import connection_url, session_setup
from app.transcript import TranscriptWriter
from app.voicelive import notices as nt
from app.voicelive.auth import CredentialProvider
from app.voicelive.session import VoiceLiveSession
from app.voicelive.session_thread import SessionThread

log = logging.getLogger(__name__)


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
        self.hot_keys = HotKeys()  # before App.__init__, which asks for the driver class
        super().__init__()
        self.settings = settings
        self.services = services = services or Services()
        folder = Path(services.transcript_dir) if services.transcript_dir else transcripts_dir()
        self.transcript_path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
        setup = session_setup(settings)  # imports the user's tool modules; their problems become warnings
        self.startup_warnings = setup.warnings
        transcript = TranscriptWriter(self.transcript_path, on_error=self._transcript_failed)
        self.session = VoiceLiveSession(setup.config, self._notice, api_version=settings.connection.api_version,
                                        conversation=Conversation(writer=transcript), muted=settings.audio.muted,
                                        tools=setup.tools, agent=settings.agent.enabled)
        self.control = SessionThread(self.session)
        # Full collections in quiet moments only, and never while a reply is heard unless long overdue.
        self.pacer = CollectionPacer(lambda: self.session.quiet, audible=lambda: self.session.audible)
        self.hot_keys.bind(hot_interrupt_keys(settings.keys), self.control.interrupt)
        engine = services.engine
        self.audio = AudioController(engine, settings.audio, report=self._audio_report,
                                     unavailable=services.audio_error,
                                     capture_loop=self.control.loop, sink=self.session.submit_audio,
                                     speech_sink=self.session.local_speech,
                                     attach=self.control.attach_audio, detach=self.control.detach_audio)
        saver = SettingsSaver(settings)
        book = PresetBook(settings.presets, settings.config_path)
        self.main = ConversationScreen(self.control, self.audio, saver, book,
                                       mic=engine.input_level if engine else None,
                                       speaker=engine.output_level if engine else None, hot_keys=self.hot_keys)
        self._quitting = False
        self._services_closing: asyncio.Future[None] | None = None
        self._ever_connected = False

    def get_driver_class(self) -> type[Driver]:
        """The platform's driver, acting on the interrupt key where it arrives (`app/hot_keys.py`)."""
        return with_hot_keys(super().get_driver_class(), self.hot_keys)

    async def on_event(self, event: events.Event) -> None:
        fresh_key = isinstance(event, events.Key) and not event.is_forwarded
        await super().on_event(event)
        if fresh_key:
            self.hot_keys.handled += 1  # the hot path waits until the App has caught up with the keys

    def _notice(self, notice: nt.Notice) -> None:
        """Called on the session's thread: hand it to the screen that shows it (thread-safe)."""
        self.main.post_message(message_for(notice))

    def _transcript_failed(self, sentence: str) -> None:
        """Called on the writer's thread; the turns stay in memory and the next write tries again."""
        self._notice(nt.Info(sentence, "error"))

    def _audio_report(self, reason: str | None, notes: list[str]) -> None:
        self.main.post_message(AudioModeChanged(reason, notes))

    # ------------------------------------------------------------------ start-up
    def on_mount(self) -> None:
        self.push_screen(self.main)
        if self.settings.keys:
            self.set_keymap(self.settings.keys)
        self.run_worker(self.control.run_forever, thread=True, group="session", name="session-thread")
        self.control.call(self.session.announce)
        for warning in self.startup_warnings:
            self.main.post_message(message_for(nt.Info(warning, "warning")))
        self.set_interval(0.5, self.audio.check)
        self.call_after_refresh(self._freeze_then_connect)

    def _freeze_then_connect(self) -> None:
        """Start-up's objects leave the collector's view before the microphone streams (`gc_pacer`)."""
        if self._quitting:
            return
        freeze_startup_objects()
        self.pacer.start(self.control.loop)
        if self.services.autostart:
            self.connect()

    @work(exclusive=True, group="connect")
    async def connect(self) -> None:
        """Start the emulator (if local), the session's run and the audio; report through messages only."""
        conn = self.settings.connection
        emulator = self.services.emulator
        if emulator is not None and not emulator.port:
            await emulator.start()
        endpoint = emulator.endpoint if emulator is not None else (conn.endpoint or "")
        api_key = emulator.api_key if emulator is not None else (
            conn.api_key.get_secret_value() if conn.api_key and conn.auth_mode == "key" else None)
        if self.settings.agent.enabled:
            api_key = None  # agents take Entra ID only (with --local, the emulator's token: cli.run_app)
        try:
            url = connection_url(self.settings, endpoint)
        except EndpointError as exc:
            self.exit(return_code=2, message=str(exc))
            return
        credentials = CredentialProvider(api_key=api_key, credential=self.services.credential, scope=conn.token_scope)
        self.main.post_message(EndpointResolved(host_of(url), emulator is not None, conn.model,
                                                self.settings.endpoint_source.label, agent=self.settings.agent.name))
        self.control.start(url, credentials)
        if not self.audio.running:
            await self.audio.open()

    def on_connection_state_changed(self, message: ConnectionStateChanged) -> None:
        """Bubbled up from the screen: a first connection that fails ends the program with its reason."""
        notice = message.notice
        if notice.state == "connected":
            self._ever_connected = True
        elif notice.state == "failed" and not self._ever_connected and not self._quitting:
            self._exit_with(notice.detail)

    @work(group="quit")
    async def _exit_with(self, detail: str) -> None:
        await self._close_services()
        self.exit(return_code=2, message=detail)

    # ------------------------------------------------------------------ actions
    async def action_reopen_audio(self) -> None:
        if self.services.engine is None:
            self.notify("Audio is off for this session (--no-audio).", severity="warning")
            return
        await self.audio.open()

    def action_reconnect(self) -> None:
        """Reconnect now; after the session gave up, start it again."""
        if self.control.running:
            self.control.reconnect()
        else:
            self.connect()

    @work(group="export")
    async def action_export(self, kind: ExportKind) -> None:
        """A snapshot read on the session's thread, written in a worker thread; a failure is one sentence."""
        conversation = await asyncio.wrap_future(self.control.query(lambda session: session.conversation.snapshot()))
        try:
            path = await asyncio.to_thread(write_export, export_path(self.transcript_path, kind),
                                           export_text(conversation, kind))
        except WriteError as exc:
            self.notify(str(exc), severity="error", title="Export", markup=False)
            return
        self.notify(f"Transcript written to {path}", title="Export", markup=False)

    def action_switch_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from palette_commands(self)

    def _fatal_error(self) -> None:
        """An unexpected exception: the details go to the (redacted) log, the terminal gets one sentence.

        Textual's default prints a traceback with local variables, which could include a key or token.
        Textual has no public hook for this; `_fatal_error` is where it renders the traceback (inside the
        `except` that caught it), so it is overridden here and uses only the public `panic` to exit.
        """
        error = sys.exc_info()[1]
        log.critical("unexpected error", exc_info=error)
        name = type(error).__name__ if error is not None else "error"
        self.panic(f"voicelive-tui stopped on an unexpected error ({name}); the details are in the log file.")

    # ------------------------------------------------------------------ quitting
    async def action_quit(self) -> None:
        await self._close_services()
        self.exit(0)

    async def _close_services(self, timeout: float | None = None) -> None:
        """Close everything once; every caller waits for that one closing, and none can cut it short.

        Quitting can start in several places (the quit key, a failed first connection, unmount). The
        App cancels its workers as it shuts down; a closing cut short there would leave the session's
        thread running and the interpreter waiting for it at exit, so it runs as its own shielded task.
        """
        self._quitting = True
        self.hot_keys.armed = False
        if self._services_closing is None:
            self._services_closing = asyncio.ensure_future(self._close_services_once())
        try:
            await asyncio.wait_for(asyncio.shield(self._services_closing), timeout)
        except asyncio.TimeoutError:
            log.warning("closing took longer than %.0f s; leaving anyway", timeout)

    async def _close_services_once(self) -> None:
        """Close the socket with 1000, stop the streams and the emulator; each step bounded, and a step that
        fails is logged and does not keep the later ones from running."""
        self.pacer.stop()
        steps: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("the session", lambda: self.control.stop(timeout=0.5)),
            ("the audio devices", self.audio.close),
            ("the transcript", lambda: asyncio.to_thread(self.session.conversation.close, 1.0)),
        ]
        if (emulator := self.services.emulator) is not None:
            steps.append(("the emulator", lambda: asyncio.wait_for(emulator.stop(), timeout=0.5)))
        for what, step in steps:
            try:
                await step()
            except Exception:
                log.warning("closing %s failed; going on", what, exc_info=True)
        for handler in logging.getLogger().handlers:
            with contextlib.suppress(Exception):
                handler.flush()
        thaw()

    async def on_unmount(self) -> None:
        await self._close_services(timeout=5.0)  # a device that never closes must not hold the exit
