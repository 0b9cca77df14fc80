"""One line under the meters: the last turns' end-of-turn latency, and the medians for the settings live now.

    eot ms 960 655 590 612 │ median: eot 612 det 260 stop 235 │ int 1/3 cut 1/3

End of turn is the time from the end of the user's speech to the first reply audio at the speaker; with
it, the detection delay (speech began → the service noticed), the stop delay (speech ended → the service
said so), and how many replies were interrupted and how many turns cut the user off. The medians are over
the turns taken with the current turn-detection settings only, so a nudge of the threshold or the silence
window starts a fresh count, and the comparison across settings is the presets screen (`p`).
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from app.voicelive.timeline import Summary, TurnTiming

LAST = 4
EMPTY = "timeline: speak a turn to time it — d: each turn's timeline · p: presets compared"


def ms(value: int | None) -> str:
    return "—" if value is None else str(value)


class TimelineStrip(Widget):
    DEFAULT_CSS = "TimelineStrip { height: 1; }"
    COMPONENT_CLASSES = {"timeline-strip--label", "timeline-strip--value", "timeline-strip--warn"}

    def __init__(self) -> None:
        super().__init__(id="timeline-strip")
        self.turns: tuple[TurnTiming, ...] = ()
        self.current: Summary | None = None

    def show(self, turns: tuple[TurnTiming, ...], summaries: tuple[Summary, ...], current: str) -> None:
        self.turns = turns
        self.current = next((s for s in summaries if s.settings == current), None)
        self.refresh()

    def render(self) -> Text:
        label = self.get_component_rich_style("timeline-strip--label")
        value = self.get_component_rich_style("timeline-strip--value")
        warn = self.get_component_rich_style("timeline-strip--warn")
        text = Text(no_wrap=True, overflow="ellipsis")
        if not self.turns:
            return text.append(" " + EMPTY, style=label)
        text.append(" eot ms", style=label)
        for turn in self.turns[-LAST:]:
            text.append(" ")
            text.append(ms(turn.end_of_turn_ms), style=warn if turn.cut_off or turn.interrupted else value)
        text.append(" │ median:", style=label)
        summary = self.current
        if summary is None:
            return text.append(" — no turns with these settings yet", style=label)
        for name, number in (("eot", summary.end_of_turn_ms), ("det", summary.detection_ms),
                             ("stop", summary.stop_ms)):
            text.append(f" {name} ", style=label).append(ms(number), style=value)
        text.append(" │", style=label)
        for name, count in (("int", summary.interrupted), ("cut", summary.cut_off)):
            text.append(f" {name} ", style=label)
            text.append(f"{count}/{summary.turns}", style=warn if count else value)
        return text
