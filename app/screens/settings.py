"""The settings screen: edit a copy, validate as you type, apply live, save to the config file.

The form starts from the session's desired configuration. Apply sends only what the form changed,
composed on whatever is desired by then (a nudge made meanwhile is kept), and shows "applying…" until
the service confirms; if it refuses, the form rolls back to the live configuration and says why.
"""

from __future__ import annotations

import asyncio
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Select, Static, Switch

from app.audio_control import AudioController
from app.config import AudioSettings
from app.files import WriteError
from app.protocol import changes
from app.protocol.session import SessionConfig
from app.screens.settings_form import FIELDS, FieldSpec, FormError, build, choice_label, values_from
from app.screens.voice_picker import VoicePicker
from app.settings_saver import SettingsSaver
from app.voicelive.config_sync import ConfigOutcome
from app.voicelive.session_thread import SessionThread

__all__ = ["SettingsSaver", "SettingsScreen"]


class SettingsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="settings-close"),
        Binding("f2", "apply", "Apply", id="settings-apply"),
        Binding("f3", "save", "Save", id="settings-save"),
        Binding("f4", "pick_voice", "Voices", id="settings-voices"),
    ]

    def __init__(self, control: SessionThread, audio: AudioController, saver: SettingsSaver,
                 desired: SessionConfig) -> None:
        super().__init__(id="settings")
        self.control = control
        self.audio = audio
        self.saver = saver
        self.live_session = desired
        self.live_audio = audio.settings
        self.valid = True
        self.pending = False

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Static("Settings  ·  changes apply live to the session", id="settings-title")
        yield Label("", id="settings-status", markup=False)  # it quotes the service and paths
        with VerticalScroll(id="settings-form"):
            section = ""
            for spec in FIELDS:
                if spec.section != section:
                    section = spec.section
                    yield Label(section, classes="settings-section")
                with Horizontal(classes="settings-row", id=f"row-{spec.id}"):
                    yield Label(spec.label, classes="settings-label")
                    with Vertical(classes="settings-field"):
                        yield self._widget(spec)
                        yield Label("", classes="settings-error", id=f"error-{spec.id}")
                        if spec.help:
                            yield Label(spec.help, classes="settings-help")
        with Horizontal(id="settings-buttons"):
            yield Button("Apply (F2)", id="apply", variant="primary", compact=True)
            yield Button("Save (F3)", id="save", compact=True)
            yield Button("Voices (F4)", id="voices", compact=True)
            yield Button("Close (Esc)", id="close", compact=True)
        yield Footer()

    @staticmethod
    def _widget(spec: FieldSpec) -> Input | Select[str] | Switch:
        if spec.kind == "bool":
            return Switch(id=spec.id)
        if spec.kind == "choice":
            return Select([(choice_label(spec.id, c), c) for c in spec.choices], id=spec.id, allow_blank=False,
                          compact=True)
        restrict = {"int": r"-?[0-9]*", "float": r"-?[0-9]*\.?[0-9]*"}.get(spec.kind)
        return Input(id=spec.id, restrict=restrict, compact=True)

    def on_mount(self) -> None:
        self.load(self.live_session, self.live_audio)
        self.query_one(f"#{FIELDS[0].id}").focus()

    # ------------------------------------------------------------------ values
    def load(self, session: SessionConfig, audio: AudioSettings) -> None:
        """Show a configuration (initially, and on rollback) without firing change handlers."""
        values = values_from(session, audio)
        with self.prevent(Input.Changed, Select.Changed, Switch.Changed):
            for spec in FIELDS:
                widget = self.query_one(f"#{spec.id}")
                if isinstance(widget, Switch):
                    widget.value = bool(values[spec.id])
                elif isinstance(widget, (Select, Input)):
                    widget.value = str(values[spec.id])
        self._validate()

    def values(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for spec in FIELDS:
            widget = self.query_one(f"#{spec.id}")
            found[spec.id] = widget.value if isinstance(widget, (Input, Select, Switch)) else None
        return found

    def candidate(self) -> tuple[SessionConfig, AudioSettings]:
        return build(self.values(), self.live_session, self.live_audio)

    def _validate(self) -> bool:
        for label in self.query(".settings-error").results(Label):
            label.update("")
            label.display = False
        for row in self.query(".settings-row"):
            row.remove_class("-invalid")
        try:
            self.candidate()
        except FormError as exc:
            error = self.query_one(f"#error-{exc.field_id}", Label)
            error.update(str(exc))
            error.display = True
            self.query_one(f"#row-{exc.field_id}").add_class("-invalid")
            self.valid = False
        else:
            self.valid = True
        self.query_one("#apply", Button).disabled = not self.valid
        self.query_one("#save", Button).disabled = not self.valid
        return self.valid

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Switch.Changed)
    def _changed(self) -> None:
        if self._validate() and not self.pending:
            self.set_status("")

    # ------------------------------------------------------------------ applying
    def set_status(self, text: str, level: str = "") -> None:
        status = self.query_one("#settings-status", Label)
        status.update(text)
        status.set_classes(f"-{level}" if level else "")

    def action_apply(self) -> None:
        self._apply(save=False)

    def action_save(self) -> None:
        self._apply(save=True)

    @work(exclusive=True, group="settings-apply")
    async def _apply(self, *, save: bool) -> None:
        if not self._validate():
            self.set_status("Fix the field marked in red first; nothing was sent.", "error")
            return
        session, audio = self.candidate()
        self.pending = True
        self.set_status("applying…", "pending")
        if audio != self.live_audio:
            await self.audio.apply(audio)
            self.live_audio = audio
        outcome = await self._send(session)
        self.pending = False
        if not outcome.applied and not outcome.queued:
            self.load(outcome.confirmed or self.live_session, self.live_audio)
            self.set_status(f"Not applied — {outcome.reason}", "error")
            return
        self.live_session = session
        if outcome.queued:
            self.set_status("Not connected: these settings go to the service as soon as it is back.", "pending")
        else:
            self.set_status("Applied: the session uses these settings now.", "ok")
        if save:
            await self._save(session, audio)

    async def _send(self, session: SessionConfig) -> ConfigOutcome:
        """Send what the form changed, composed on the desired configuration as it is by then."""
        diff = changes.diff(self.live_session, session)
        if not diff:
            return ConfigOutcome(True, session)
        return await asyncio.wrap_future(self.control.request(lambda config: changes.apply(config, diff)))

    async def _save(self, session: SessionConfig, audio: AudioSettings) -> None:
        try:
            path = await self.saver.save(session, audio)
        except WriteError as exc:
            self.set_status(f"Applied, but not saved: {exc}", "error")
            return
        self.notify(f"Saved to {path}", title="Settings", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_pick_voice(self) -> None:
        """The searchable voice list; what it returns goes into the form, which validates it as typed text."""
        def chosen(choice: tuple[str, str] | None) -> None:
            if choice is not None:
                voice_type, name = choice
                self.query_one("#voice-type", Select).value = voice_type
                self.query_one("#voice-name", Input).value = name
        name, kind = self.query_one("#voice-name", Input).value, self.query_one("#voice-type", Select).value
        self.app.push_screen(VoicePicker(name, str(kind)), chosen)

    @on(Button.Pressed, "#voices")
    def _voices_pressed(self) -> None:
        self.action_pick_voice()

    @on(Button.Pressed, "#apply")
    def _apply_pressed(self) -> None:
        self.action_apply()

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#close")
    def _close_pressed(self) -> None:
        self.action_close()
