"""The settings screen: edit a copy, validate as you type, apply live, save to the config file.

Apply sends `session.update` and shows "applying…" until the service confirms; only then is the new
configuration live. If the service refuses, the form rolls back to the live configuration and says why.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Select, Static, Switch

from app.config import AudioSettings
from app.protocol.session import SessionConfig
from app.screens.settings_form import FIELDS, FieldSpec, FormError, build, values_from


class SettingsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="settings-close"),
        Binding("f2", "apply", "Apply", id="settings-apply"),
        Binding("f3", "save", "Save", id="settings-save"),
    ]

    class ApplyRequested(Message):
        def __init__(self, session: SessionConfig, audio: AudioSettings) -> None:
            super().__init__()
            self.session = session
            self.audio = audio

    class SaveRequested(ApplyRequested):
        pass

    def __init__(self, live_session: SessionConfig, live_audio: AudioSettings) -> None:
        super().__init__(id="settings")
        self.live_session = live_session
        self.live_audio = live_audio
        self.valid = True
        self.pending = False

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Static("Settings  ·  changes apply live to the session", id="settings-title")
        yield Label("", id="settings-status")
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
            yield Button("Close (Esc)", id="close", compact=True)
        yield Footer()

    @staticmethod
    def _widget(spec: FieldSpec) -> Input | Select[str] | Switch:
        if spec.kind == "bool":
            return Switch(id=spec.id)
        if spec.kind == "choice":
            return Select([(c, c) for c in spec.choices], id=spec.id, allow_blank=False, compact=True)
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

    # ------------------------------------------------------------------ status from the App
    def set_status(self, text: str, level: str = "") -> None:
        status = self.query_one("#settings-status", Label)
        status.update(text)
        status.set_classes(f"-{level}" if level else "")

    def confirmed(self, session: SessionConfig, audio: AudioSettings) -> None:
        """The service accepted: this is the live configuration now."""
        self.live_session, self.live_audio, self.pending = session, audio, False
        self.set_status("Applied: the session uses these settings now.", "ok")

    def rejected(self, message: str) -> None:
        """The service refused: roll the form back to what is live and say why."""
        self.pending = False
        self.load(self.live_session, self.live_audio)
        self.set_status(f"Not applied — {message}", "error")

    # ------------------------------------------------------------------ actions
    def _request(self, kind: type[ApplyRequested]) -> None:
        if not self._validate():
            self.set_status("Fix the field marked in red first; nothing was sent.", "error")
            return
        session, audio = self.candidate()
        self.pending = True
        self.set_status("applying…", "pending")
        self.post_message(kind(session, audio))

    def action_apply(self) -> None:
        self._request(self.ApplyRequested)

    def action_save(self) -> None:
        self._request(self.SaveRequested)

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#apply")
    def _apply_pressed(self) -> None:
        self.action_apply()

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#close")
    def _close_pressed(self) -> None:
        self.action_close()
