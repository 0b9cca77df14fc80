"""The help screen: every binding that is live on the conversation screen, as the keymap has them."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

# Longer words for the keys whose footer labels are short.
LONG = {
    "threshold-down": "Lower the VAD threshold by 0.05 (quieter speech counts)",
    "threshold-up": "Raise the VAD threshold by 0.05 (only louder speech counts)",
    "silence-down": "Shorten the pause that ends your turn by 100 ms",
    "silence-up": "Lengthen the pause that ends your turn by 100 ms",
    "interrupt": "Interrupt the assistant (speaking over it works too)",
    "mute": "Mute or unmute the microphone",
    "type": "Type a message instead of speaking",
    "details": "Details under each reply: latency, audio, tokens and the turn's timeline",
    "reopen-audio": "Reopen the audio devices (after one vanished)",
    "reconnect": "Reconnect now (also after giving up)",
    "talk": "Push-to-talk: tap to talk, tap again to send (or hold it while you speak)",
    "presets": "Presets: compare your turns per turn-detection setting, switch, save",
}

ABOUT = (
    "Speak to talk; the assistant answers when you pause. Speaking over it interrupts it, as does i.\n"
    "The mic meter's yellow bar is the turn-detection threshold: speech must rise above it.\n"
    "With turn detection off (settings, a preset or --push-to-talk) space makes the turns: tap it to talk and "
    "again to send, or hold it while you speak (terminals do not report a key's release, so a held key is "
    "recognised by its repeats and sends 0.15 s after you let go).\n"
    "The line under the meters times your turns: eot is end of your speech → reply audible (d shows each "
    "turn's timeline, p compares settings)."
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close", id="help-close")]

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__(id="help")
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=True, header_style="bold", expand=True, pad_edge=False)
        table.add_column("Key", no_wrap=True, style="bold")
        table.add_column("Action")
        for keys, description in self.rows:
            table.add_row(keys, description)
        with VerticalScroll(id="help-body"):
            yield Static("Keys", classes="help-title")
            yield Static(table)
            yield Static(ABOUT, classes="help-about")
            yield Static("Esc closes this screen.", classes="help-hint")

    def action_close(self) -> None:
        self.dismiss(None)
