"""Full garbage collections only when nobody is talking or listening.

CPython's full (generation 2) collection holds the GIL while it walks every tracked object, and a Textual
app keeps ~100,000 of them alive (widgets, styles, each `Strip`'s seven caches). Measured in the installed
app with `gc.callbacks`, each took 35–150 ms, every few seconds while replies stream. For that long no
other thread runs: the microphone's blocks wait (the service hears a 90–130 ms gap), the playback
callback and the reply's deltas wait (the jitter buffer runs dry), a duck or a stop waits.

Young collections (generations 0 and 1) stay automatic: they walk only new objects and take a few ms.
The automatic full collection is switched off (its trigger, the third threshold, is set out of reach) and
this pacer runs it instead: when the conversation has been quiet for a second — no reply being generated
or played, nobody speaking — and at least `min_gap_s` after the last one; and regardless after
`max_gap_s`, or once `max_young` young collections have run since the last full one (15 times what
CPython waits for), so memory held in cycles is still returned in a session that never pauses: with only
the time limit, 400 typed turns back to back held 100 MB more at their peak. A gap in the
microphone's stream while nobody speaks costs nothing a listener hears; the stream itself is never lost
(PortAudio and the sound server hold the blocks until the callback runs again).

An overdue collection still waits while a reply is playing (`audible`), up to `max_defer_s` more: the
speaker's device queue holds 40 ms and the callback refills it 20 ms at a time, so a collection holding
the GIL past ~20 ms can starve it, an underrun the user hears; in a 3-minute reply the forced ones held it
38–61 ms. It runs in the reply's first pause instead. Each collection is logged with how long it held the
interpreter and why it ran, for anyone tracing a stall.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

WARM_IMPORTS = ("pygments.lexers.python", "numpy.ma")  # the first code block's lexer; numpy's lazy `ma`
NEVER = 1_000_000  # generation-1 collections before an automatic full one: never, in practice


def freeze_startup_objects() -> None:
    """Everything made at start-up (Textual, pydantic, numpy: ~85,000 objects) lives as long as the app:
    one full collection, then `gc.freeze` takes them out of every later one. That collection holds the GIL
    ~80 ms, so it runs before the microphone streams (it stalled the first second of every connection
    when it ran after). The modules first imported later, seen by an import log of a whole session, are
    imported here too, for the same reason: an import mid-conversation held the other threads ~50 ms."""
    for name in WARM_IMPORTS:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    warm_first_markdown()
    gc.collect()
    gc.freeze()


def warm_first_markdown() -> None:
    """Parse a little Markdown once, before the microphone streams, as the log's turns will.

    The first parse compiles linkify's and markdown-it's regular expressions (kept in `re`'s cache after):
    30-40 ms on the UI thread, measured, and it fell in the first reply, where a profile of the installed
    app showed it just before the microphone's longest gap of the session's first seconds."""
    from markdown_it import MarkdownIt  # Textual's Markdown widget parses with MarkdownIt("gfm-like")

    MarkdownIt("gfm-like").parse(_WARM_MARKDOWN)


_WARM_MARKDOWN = ("# A reply\n\nWith **bold**, _italic_, `code`, ~~more~~ and links: https://example.com/a?b=1#c, "
                  "http://example.org, www.example.net, someone@example.com, [text](https://example.com).\n\n"
                  "- one\n- two\n\n1. first\n\n> quoted\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n"
                  "```python\nx = 1\n```\n")


class CollectionPacer:
    def __init__(self, quiet: Callable[[], bool], *, audible: Callable[[], bool] = lambda: False,
                 every_s: float = 0.5, quiet_for_s: float = 1.0, min_gap_s: float = 20.0, max_gap_s: float = 120.0,
                 max_young: int = 150, max_defer_s: float = 600.0,
                 clock: Callable[[], float] = time.monotonic, collect: Callable[[], object] = gc.collect,
                 young: Callable[[], int] = lambda: gc.get_count()[2]) -> None:
        self.quiet = quiet
        self.audible = audible  # a reply is playing: an overdue collection waits (up to max_defer_s)
        self.max_defer_s = max_defer_s
        self.every_s = every_s
        self.quiet_for_s = quiet_for_s
        self.min_gap_s = min_gap_s
        self.max_gap_s = max_gap_s
        self.max_young = max_young  # young (gen-1) collections since the last full one: a measure of garbage
        self.young = young
        self.clock = clock
        self.collect = collect
        self.collections = 0  # full collections this pacer ran (forced ones included)
        self.forced = 0  # of those, ones run because max_gap_s passed without a quiet moment
        self.deferred = 0  # overdue collections that waited for a reply to stop playing
        self._waiting_since: float | None = None  # an overdue collection has waited for a reply since then
        self._last = clock()
        self._quiet_since: float | None = None
        self._saved: tuple[int, int, int] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = False

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Take over full collections now (call it on the owner's thread) and check every `every_s` on
        `loop` (the session's: it knows when the conversation is quiet). After `stop`, it does nothing."""
        if self._stopped or self._saved is not None:
            return
        self._saved = gc.get_threshold()
        gc.set_threshold(self._saved[0], self._saved[1], NEVER)
        self._loop = loop
        self._last = self.clock()
        with contextlib.suppress(RuntimeError):  # the loop already closed: nothing to check on
            loop.call_soon_threadsafe(self._schedule)

    def stop(self) -> None:
        """Give full collections back to the interpreter (its own thresholds again), from any thread; the
        next check sees `_stopped` and does not run or reschedule."""
        self._stopped = True
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None

    def tick(self) -> bool:
        """One check; True if it ran a full collection."""
        now = self.clock()
        if not self.quiet():
            self._quiet_since = None
        elif self._quiet_since is None:
            self._quiet_since = now
        since = now - self._last
        settled = self._quiet_since is not None and now - self._quiet_since >= self.quiet_for_s
        young = self.young()
        overdue = since >= self.max_gap_s or young >= self.max_young
        if not (overdue or (since >= self.min_gap_s and settled)):
            return False
        if not settled and self.audible():  # overdue, but a reply is playing: wait, up to max_defer_s
            if self._waiting_since is None:
                self._waiting_since = now
                self.deferred += 1
            if now - self._waiting_since < self.max_defer_s:
                return False
        self.forced += not settled
        started = time.perf_counter()
        self.collect()
        held_ms = (time.perf_counter() - started) * 1000
        self.collections += 1
        self._last = self.clock()
        why = "a quiet moment" if settled else f"overdue ({since:.0f} s, {young} young collections)"
        if self._waiting_since is not None:
            why += f"; waited {now - self._waiting_since:.0f} s for a reply to stop playing"
            self._waiting_since = None
        log.info("full garbage collection: held the interpreter %.0f ms (%s)", held_ms, why)
        return True

    def _schedule(self) -> None:
        if not self._stopped and self._loop is not None and not self._loop.is_closed():
            self._loop.call_later(self.every_s, self._tick)

    def _tick(self) -> None:
        if self._stopped:
            return
        try:
            self.tick()
        finally:
            self._schedule()


def thaw() -> None:
    """At the end: what `freeze_startup_objects` froze may be collected again (tests run many apps)."""
    gc.unfreeze()
