"""Keys acted on where they arrive: the terminal's input thread, not the UI's event loop.

A key reaches a Textual binding only when the UI loop gets to it, behind whatever it is doing: laying
out a long log, rendering a reply's Markdown. Measured in the whole-app benchmark, `i` pressed over a
streaming reply stopped it in 5–6 ms most times, but in 3–4 runs of 10 only after 47–158 ms. Stopping a
reply should not wait for a redraw: Textual's driver parses keys on its own thread and hands each event
to `process_message` (public, and documented as running in that thread); this driver looks at each key
there first, and a hot key whose action is armed runs it at once and is not passed on.

What may run there is what an audio callback may do: read plain attributes, call `call_soon_threadsafe`.
The conversation screen arms the keys while it is the screen in front and no text field has focus (a
letter typed into the prompt is a letter). A key taken here never reaches the App; the binding stays for
what this driver does not see (Pilot's keys, the palette, a click on the footer).
"""

from __future__ import annotations

from collections.abc import Callable

from textual import events
from textual.driver import Driver
from textual.message import Message


class HotKeys:
    """Which keys act on the input thread, and whether they may now (the UI loop sets `armed`)."""

    def __init__(self) -> None:
        self.armed = False
        self.taken = 0  # keys acted on here (for tests and the log)
        self._actions: dict[str, Callable[[], None]] = {}

    def bind(self, keys: str, action: Callable[[], None]) -> None:
        """`keys`: one key or a comma-separated list, as in a keymap (`"i"`, `"i,ctrl+x"`)."""
        for key in keys.split(","):
            if key.strip():
                self._actions[key.strip()] = action

    def take(self, key: str) -> bool:
        """On the input thread: run the key's action if armed; True if the key is used up."""
        action = self._actions.get(key) if self.armed else None
        if action is None:
            return False
        action()
        self.taken += 1
        return True


def with_hot_keys(base: type[Driver], hot: HotKeys) -> type[Driver]:
    """`base` (the platform's driver), looking at each key on its input thread before the App does."""

    class HotKeyDriver(base):  # type: ignore[valid-type,misc]  # a class chosen at run time
        def process_message(self, message: Message) -> None:
            if isinstance(message, events.Key) and hot.take(message.key):
                return
            super().process_message(message)

    HotKeyDriver.__name__ = f"HotKey{base.__name__}"
    return HotKeyDriver
