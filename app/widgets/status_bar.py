"""The status line: connection state, where we are connected (host only, never the key), what is live."""

from __future__ import annotations

import time

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

_STATE_STYLE = {
    "connecting": "yellow", "connected": "green", "reconnecting": "yellow", "closed": "red", "failed": "bold red",
}


class StatusBar(Widget):
    state: reactive[str] = reactive("connecting")
    detail: reactive[str] = reactive("")
    host: reactive[str] = reactive("")
    model: reactive[str] = reactive("")
    voice: reactive[str] = reactive("")
    vad: reactive[str] = reactive("")
    muted: reactive[bool] = reactive(False)
    audio: reactive[str] = reactive("audio")
    local: reactive[bool] = reactive(False)
    attempt: reactive[int] = reactive(0)
    clock: bool = True  # snapshot tests switch the running clock off

    def __init__(self) -> None:
        super().__init__(id="status-bar")
        self.connected_at: float | None = None

    def on_mount(self) -> None:
        self.set_interval(1.0, self.refresh)

    def watch_state(self, state: str) -> None:
        if state == "connected":
            self.connected_at = time.monotonic()
        elif state in ("closed", "failed"):
            self.connected_at = None

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        label = f"{self.state} ({self.attempt})…" if self.state == "reconnecting" and self.attempt else self.state
        text.append(f" ● {label}", style=_STATE_STYLE.get(self.state, ""))
        if self.detail and self.state in ("closed", "failed", "reconnecting"):
            text.append(f" ({self.detail})", style="dim")
        if self.connected_at is not None and self.clock:
            minutes, seconds = divmod(int(time.monotonic() - self.connected_at), 60)
            text.append(f" {minutes:02d}:{seconds:02d}/60:00", style="dim")
        if self.muted:
            text.append(" │ ")
            text.append("MUTED", style="bold red")
        if self.audio != "audio":
            text.append(" │ ")
            text.append(self.audio, style="yellow")
        text.append(" │ ")
        text.append("emulator " if self.local else "Azure ", style="bold")
        text.append(self.host, style="dim")
        for value in (self.model, self.voice, self.vad):
            if value:
                text.append(" │ " + value)
        return text
