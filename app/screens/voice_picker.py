"""A searchable list of voices for the settings form: type to filter, Enter (or a click) to pick.

Whatever is typed can also be used as it is (the last entry, or the only one when nothing matches) —
another neural voice, a custom or personal voice — and the settings form then judges it with the same
`Voice` model as always. The picker returns (type, name).
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from app.protocol.session import OPENAI_VOICES
from app.protocol.voices import search

FREE_TEXT = "free-text"


def free_text_type(name: str, current_type: str) -> str:
    """The voice type for a typed name: OpenAI's names are OpenAI voices; custom and personal stay so."""
    if name in OPENAI_VOICES:
        return "openai"
    return current_type if current_type in ("azure-custom", "azure-personal") else "azure-standard"


class VoicePicker(ModalScreen[tuple[str, str] | None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="voices-close"),
        Binding("down", "to_list", "List", show=False, id="voices-down"),
    ]

    def __init__(self, current_name: str, current_type: str) -> None:
        super().__init__(id="voice-picker")
        self.current_name = current_name
        self.current_type = current_type
        self._types: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="voice-picker-body"):
            yield Label("Voice: type to search (HD, neural, OpenAI, a language…); Enter picks", classes="help-title")
            yield Input(placeholder="search, or a custom voice name", id="voice-filter", compact=True)
            yield OptionList(id="voice-list")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one("#voice-filter", Input).focus()

    @on(Input.Changed, "#voice-filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def _fill(self, query: str) -> None:
        options = self.query_one("#voice-list", OptionList)
        options.clear_options()
        self._types = {}
        typed = query.strip()
        matches = search(typed)
        for voice in matches:
            self._types[voice.name] = voice.type
            marker = "● " if voice.name == self.current_name else "  "
            options.add_option(Option(f"{marker}{voice.name}  · {voice.kind}"
                                      + (f", {voice.note}" if voice.note else ""), id=voice.name))
        if typed and all(voice.name != typed for voice in matches):  # last: a match is the likelier wish
            self._types[FREE_TEXT] = typed
            options.add_option(Option(f"use “{typed}” as typed (custom, personal or another voice)", id=FREE_TEXT))
        if options.option_count:
            options.highlighted = 0

    @on(Input.Submitted, "#voice-filter")
    def _submitted(self) -> None:
        options = self.query_one("#voice-list", OptionList)
        if options.highlighted is not None:
            self._pick(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected, "#voice-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._pick(event.option.id)

    def _pick(self, option_id: str | None) -> None:
        if option_id is None:
            return
        if option_id == FREE_TEXT:
            name = self._types[FREE_TEXT]
            self.dismiss((free_text_type(name, self.current_type), name))
        else:
            self.dismiss((self._types[option_id], option_id))

    def action_to_list(self) -> None:
        self.query_one("#voice-list", OptionList).focus()

    def action_close(self) -> None:
        self.dismiss(None)
