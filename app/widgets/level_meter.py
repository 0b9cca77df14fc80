"""A one-line level meter polled from an audio callback's floats.

It polls at 20 Hz but only refreshes when a drawn cell would change, so an idle meter costs almost
nothing. The input meter also draws the VAD threshold (the emulator's energy gate for it) and lights up
while the server reports speech.
"""

from __future__ import annotations

from typing import Protocol

from rich.text import Text
from textual.widget import Widget

from app.audio.levels import FLOOR_DBFS, meter_fraction, threshold_to_dbfs, to_dbfs


class LevelSource(Protocol):
    rms: float
    peak: float


class LevelMeter(Widget):
    DEFAULT_CSS = "LevelMeter { height: 1; width: 1fr; }"
    POLL_HZ = 15

    def __init__(self, label: str, source: LevelSource | None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        self.source = source
        self.threshold: float | None = None
        self.speaking = False
        self.muted = False
        self._drawn: tuple[int, int, bool, bool, int] | None = None
        self.redraws = 0

    def on_mount(self) -> None:
        self.set_interval(1 / self.POLL_HZ, self._poll)

    def _bar_width(self) -> int:
        return max(4, self.size.width - len(self.label) - 10)

    def _state(self) -> tuple[int, int, bool, bool, int]:
        width = self._bar_width()
        rms = self.source.rms if self.source is not None else 0.0
        cells = round(meter_fraction(rms) * width)
        marker = -1
        if self.threshold is not None:
            marker = round((threshold_to_dbfs(self.threshold) - FLOOR_DBFS) / -FLOOR_DBFS * (width - 1))
        return cells, marker, self.speaking, self.muted, 3 * round(to_dbfs(rms) / 3)  # 3 dB steps: calm digits

    def _poll(self) -> None:
        state = self._state()
        if state != self._drawn:
            self.refresh()

    def render(self) -> Text:
        state = self._drawn = self._state()
        cells, marker, speaking, muted, db = state
        width = self._bar_width()
        text = Text(f"{self.label} ", style="bold" if speaking else "")
        bar_style = "dim" if muted else ("green" if speaking else "cyan")
        bar = "█" * cells + "·" * (width - cells)
        if 0 <= marker < width:  # a handful of runs, not one append per cell: this redraws 15 times a second
            before, after = bar[:marker], bar[marker + 1 :]
            text.append(before[:cells], style=bar_style).append(before[cells:], style="dim")
            text.append("│", style="bold yellow")
            text.append(after[: max(0, cells - marker - 1)], style=bar_style)
            text.append(after[max(0, cells - marker - 1) :], style="dim")
        else:
            text.append(bar[:cells], style=bar_style).append(bar[cells:], style="dim")
        text.append(" MUTED" if muted else f" {db:4d} dB", style="bold red" if muted else "")
        self.redraws += 1
        return text
