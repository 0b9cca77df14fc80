"""The main screen: status line, level meters, the conversation log, the prompt and the footer."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer

from app.widgets.conversation_log import ConversationLog
from app.widgets.level_meter import LevelMeter, LevelSource
from app.widgets.prompt import MessagePrompt
from app.widgets.status_bar import StatusBar


class ConversationScreen(Screen[None]):
    BINDINGS = [
        Binding("m", "app.toggle_mute", "Mute", id="mute"),
        Binding("i", "app.interrupt", "Interrupt", id="interrupt"),
        Binding("t", "type_message", "Type", id="type"),
    ]

    def __init__(self, mic: LevelSource | None, speaker: LevelSource | None) -> None:
        super().__init__(id="conversation")
        self._mic = mic
        self._speaker = speaker

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Horizontal(id="meters"):
            yield LevelMeter("mic", self._mic, id="mic-meter")
            yield LevelMeter("out", self._speaker, id="out-meter")
        yield ConversationLog()
        yield MessagePrompt()
        yield Footer()

    def action_type_message(self) -> None:
        prompt = self.query_one(MessagePrompt)
        prompt.add_class("-visible")
        prompt.focus()

    def on_message_prompt_left(self, message: MessagePrompt.Left) -> None:
        prompt = self.query_one(MessagePrompt)
        prompt.remove_class("-visible")
        prompt.value = ""
        self.set_focus(None)
