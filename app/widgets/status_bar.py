"""The status line: connection state, where we are connected (host only, never the key), what is live.

Colours come from the theme through component classes (styled in `styles.tcss`), so every theme in the
palette colours it. The turn-detection values shown are the *requested* ones: while the service has not
confirmed them they carry a pending mark (…), once it has, a check (✓). They come right after the
connection state, so a narrow terminal cuts the host, not the value being tuned.
"""

from __future__ import annotations

import time

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from app.protocol.turn_labels import short_vad
from app.voicelive.usage import short_count

__all__ = ["StatusBar", "short_vad", "short_voice"]
_STATE_CLASS = {"connecting": "pending", "reconnecting": "pending", "connected": "good", "closed": "bad",
                "failed": "bad", "idle": "pending"}


def short_voice(name: str) -> str:
    """en-US-Ava:DragonHDLatestNeural → Ava; alloy → alloy (the status line has 80 columns to share)."""
    base = name.split(":")[0]
    return base.split("-", 2)[2] if base.count("-") >= 2 else base



class StatusBar(Widget):
    COMPONENT_CLASSES = {"status-bar--good", "status-bar--pending", "status-bar--bad", "status-bar--dim",
                         "status-bar--strong", "status-bar--talking"}

    state: reactive[str] = reactive("idle")
    detail: reactive[str] = reactive("")
    host: reactive[str] = reactive("")
    model: reactive[str] = reactive("")
    agent: reactive[str] = reactive("")  # a Foundry agent's name: shown instead of the model
    voice: reactive[str] = reactive("")
    vad: reactive[str] = reactive("")
    pending: reactive[bool] = reactive(False)
    talk: reactive[str] = reactive("")  # push-to-talk: "idle" or "talking"; "" while turn detection is on
    tokens: reactive[int] = reactive(0)
    muted: reactive[bool] = reactive(False)
    audio: reactive[str] = reactive("audio")
    local: reactive[bool] = reactive(False)
    source: reactive[str] = reactive("")  # where the endpoint came from (.env, config file, ...): a surprise shows
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

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"status-bar--{name}")

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        label = f"{self.state} ({self.attempt})…" if self.state == "reconnecting" and self.attempt else self.state
        text.append(f" ● {label}", style=self._style(_STATE_CLASS.get(self.state, "pending")))
        if self.detail and self.state in ("closed", "failed", "reconnecting"):
            text.append(f" ({self.detail})", style=self._style("dim"))
        if self.connected_at is not None and self.clock:
            minutes, seconds = divmod(int(time.monotonic() - self.connected_at), 60)
            text.append(f" {minutes:02d}:{seconds:02d}/60:00", style=self._style("dim"))
        if self.muted:
            text.append(" │ ")
            text.append("MUTED", style=self._style("bad"))
        if self.audio != "audio":
            text.append(" │ ")
            text.append(self.audio, style=self._style("pending"))
        if self.vad:
            text.append(" │ ")
            text.append(self.vad, style=self._style("pending") if self.pending else "")
            text.append(" …" if self.pending else " ✓", style=self._style("pending" if self.pending else "good"))
        if self.talk == "talking":
            text.append(" │ ")
            text.append("TALKING", style=self._style("talking")).append(" (space sends)", style=self._style("dim"))
        elif self.talk:
            text.append(" │ idle (space talks)", style=self._style("dim"))
        if self.voice:
            text.append(" │ " + self.voice)
        if self.tokens:
            text.append(f" │ {short_count(self.tokens)} tok", style=self._style("dim"))
        text.append(" │ ")
        text.append("emulator " if self.local else "Azure ", style=self._style("strong"))
        text.append(self.host, style=self._style("dim"))
        if self.source:
            text.append(f" ({self.source})", style=self._style("dim"))
        if self.agent:
            text.append(" │ ")
            text.append(f"agent {self.agent}", style=self._style("strong"))
        elif self.model:
            text.append(" │ " + self.model)
        return text
