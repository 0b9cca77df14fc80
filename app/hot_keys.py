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

import threading
import time
from collections.abc import Callable

from textual import events
from textual.driver import Driver
from textual.message import Message

from app.audio.priority import claim_realtime

SETTLE_S = 0.25  # a key this soon after another is left to the App: the one before may open the prompt


class HotKeys:
    """Which keys act on the input thread, and whether they may now.

    `armed` is set by the UI loop, which may lag behind the keys: `t` then `i` typed fast reach this thread
    before the loop has focused the prompt. So a hot key acts only when the App has seen every key passed
    on before it (`handled` ≥ `passed`) and none came in the last `SETTLE_S`: a pause, as when someone
    stops a reply, not a burst of typing."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.armed = False
        self.taken = 0  # keys acted on here (for tests and the log)
        self.passed = 0  # keys handed on to the App (input thread)
        self.handled = 0  # keys the App has dispatched (UI loop)
        self.clock = clock
        self.input_thread: threading.Thread | None = None  # the driver's input thread, once it delivered something
        self.realtime = False  # ... and whether it runs at real-time priority
        self._last_key = float("-inf")
        self._actions: dict[str, Callable[[], None]] = {}

    def bind(self, keys: str, action: Callable[[], None]) -> None:
        """`keys`: one key or a comma-separated list, as in a keymap (`"i"`, `"i,ctrl+x"`)."""
        for key in keys.split(","):
            if key.strip():
                self._actions[key.strip()] = action

    def take(self, key: str) -> bool:
        """On the input thread: run the key's action if it may act now; True if the key is used up."""
        now = self.clock()
        settled = now - self._last_key >= SETTLE_S and self.handled >= self.passed
        self._last_key = now
        action = self._actions.get(key) if self.armed and settled else None
        if action is not None:
            try:
                action()
            except Exception:  # the session's loop closed as the app quits: let the App have it
                action = None
        if action is None:
            self.passed += 1
            return False
        self.taken += 1
        return True


def hot_interrupt_keys(keymap: dict[str, str]) -> str:
    """The interrupt's keys after the user's keymap (binding id → comma-separated keys), less any key the
    keymap gives another binding: that key belongs to the other action, and the App decides it."""
    others = {key.strip() for binding, keys in keymap.items() if binding != "interrupt" for key in keys.split(",")}
    return ",".join(key.strip() for key in keymap.get("interrupt", "i").split(",")
                    if key.strip() and key.strip() not in others)


def with_hot_keys(base: type[Driver], hot: HotKeys) -> type[Driver]:
    """`base` (the platform's driver), looking at each key on its input thread before the App does."""

    class HotKeyDriver(base):  # type: ignore[valid-type,misc]  # a class chosen at run time
        def process_message(self, message: Message) -> None:
            thread = threading.current_thread()
            if hot.input_thread is not thread and thread is not threading.main_thread():
                # The input thread is on the interrupt's path, like the audio threads: real-time where allowed.
                # (Compared as objects: a driver restarted after a suspend may get the old thread's id.)
                hot.input_thread = thread
                hot.realtime = claim_realtime()
            if isinstance(message, events.Key) and hot.take(message.key):
                return
            super().process_message(message)

    HotKeyDriver.__name__ = f"HotKey{base.__name__}"
    return HotKeyDriver
