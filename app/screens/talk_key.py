"""The talk key without key-release events: tap to start, tap to send — and holding it works too.

Textual 8.2.8 asks the terminal for the kitty keyboard protocol's flags 1, 8 and 16 (disambiguate, all
keys as escape codes, associated text) but not flag 2 (report event types), and its `Key` event has no
press/release field, so an app never learns that a key went up. What a terminal does send while a key is
held is a stream of repeats (after ~0.25–0.6 s, then every ~30–50 ms). So: the first press starts a turn;
a later press ends it, but only once no further press has come for `repeat_gap_s` — a single tap ends the
turn that much later, while a held key keeps the turn open until its repeats stop, i.e. until release.
Repeats that trail the end of a turn are ignored. No Textual here: the screen owns the timer.
"""

from __future__ import annotations

import math
from typing import Literal

REPEAT_GAP_S = 0.15  # longer than a terminal's repeat interval, short enough not to be felt after a tap

Press = Literal["start", "hold", "ignore"]


class TalkKey:
    def __init__(self, repeat_gap_s: float = REPEAT_GAP_S) -> None:
        self.repeat_gap_s = repeat_gap_s
        self.talking = False
        self._last_press = -math.inf

    def press(self, now: float) -> Press:
        """`start`: begin a turn now; `hold`: end it `repeat_gap_s` from now unless pressed again (call
        `due` then); `ignore`: a repeat of the key that already ended the turn."""
        gap, self._last_press = now - self._last_press, now
        if self.talking:
            return "hold"
        if gap < self.repeat_gap_s:
            return "ignore"
        self.talking = True
        return "start"

    def due(self, now: float) -> bool:
        """True (and the turn is over) if no press came in the last `repeat_gap_s`."""
        if self.talking and now - self._last_press >= self.repeat_gap_s * 0.95:
            self.talking = False
            return True
        return False

    def reset(self) -> None:
        """Push-to-talk went off, or the session ended the turn: the key starts a new turn next time."""
        self.talking = False
