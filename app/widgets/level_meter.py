"""A one-line level meter drawn from floats that an audio callback keeps up to date.

It polls at `POLL_HZ` (15 Hz) but refreshes only when a drawn cell would change, so an idle meter costs
almost nothing. The input meter also draws the VAD threshold (the emulator's energy gate for it) and
lights up while the service reports speech; the output meter says when the reply is ducked because you
started talking over it. With push-to-talk it says whether the microphone is being sent (TALK) or not
(idle, drawn greyed). Colours come from the theme through component classes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from rich.text import Text
from textual.widget import Widget

from app.audio.levels import FLOOR_DBFS, meter_fraction, threshold_to_dbfs, to_dbfs

DrawnState = tuple[int, int, bool, bool, bool, int, bool | None]


class LevelSource(Protocol):
    rms: float
    peak: float


class LevelMeter(Widget):
    DEFAULT_CSS = "LevelMeter { height: 1; width: 1fr; }"
    COMPONENT_CLASSES = {"level-meter--bar", "level-meter--speaking", "level-meter--empty", "level-meter--marker",
                         "level-meter--muted", "level-meter--ducked", "level-meter--talking"}
    POLL_HZ = 15

    def __init__(self, label: str, source: LevelSource | None, *, ducked: Callable[[], bool] | None = None,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        self.source = source
        self.threshold: float | None = None
        self.speaking = False
        self.muted = False
        self.talking: bool | None = None  # push-to-talk: True while the talk key is down; None without it
        self._ducked = ducked
        self._drawn: DrawnState | None = None
        self.redraws = 0

    def on_mount(self) -> None:
        self.set_interval(1 / self.POLL_HZ, self._poll)

    def _bar_width(self) -> int:
        return max(4, self.size.width - len(self.label) - 10)

    def _state(self) -> DrawnState:
        width = self._bar_width()
        rms = self.source.rms if self.source is not None else 0.0
        cells = round(meter_fraction(rms) * width)
        marker = -1
        if self.threshold is not None:
            marker = round((threshold_to_dbfs(self.threshold) - FLOOR_DBFS) / -FLOOR_DBFS * (width - 1))
        ducked = self._ducked() if self._ducked is not None else False
        db = 3 * round(to_dbfs(rms) / 3)  # 3 dB steps
        return cells, marker, self.speaking, self.muted, ducked, db, self.talking

    def _poll(self) -> None:
        if self._state() != self._drawn:
            self.refresh()

    def render(self) -> Text:
        state = self._drawn = self._state()
        cells, marker, speaking, muted, ducked, db, talking = state
        width = self._bar_width()
        style = self.get_component_rich_style
        empty = style("level-meter--empty")
        silent = muted or talking is False  # what is drawn is not going to the service
        bar_style = empty if silent else style("level-meter--speaking" if speaking else "level-meter--bar")
        text = Text(f"{self.label} ", style="bold" if speaking else "")
        bar = "█" * cells + "·" * (width - cells)
        if 0 <= marker < width:  # a handful of runs, not one append per cell: this redraws 15 times a second
            before, after = bar[:marker], bar[marker + 1 :]
            text.append(before[:cells], style=bar_style).append(before[cells:], style=empty)
            text.append("│", style=style("level-meter--marker"))
            text.append(after[: max(0, cells - marker - 1)], style=bar_style)
            text.append(after[max(0, cells - marker - 1) :], style=empty)
        else:
            text.append(bar[:cells], style=bar_style).append(bar[cells:], style=empty)
        if muted:
            text.append(" MUTED", style=style("level-meter--muted"))
        elif talking is not None:
            text.append(" TALK " if talking else " idle ", style=style("level-meter--talking") if talking else empty)
        elif ducked:
            text.append(" DUCK", style=style("level-meter--ducked"))
        else:
            text.append(f" {db:4d} dB")
        self.redraws += 1
        return text
