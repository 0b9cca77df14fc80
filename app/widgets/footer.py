"""The key footer, without the leak Textual's own `Footer` has when it is rebuilt again and again.

Textual 8.2's `Footer` rebuilds its keys (`recompose`) every time the screen's bindings change: here, every
time the message prompt takes or leaves focus, so twice per typed turn. Each new `FooterKey` is made with
`.data_bind(compact=Footer.compact)`, which stores `(key, setter)` in the footer's own watcher list for
`compact` (`Reactive._watch`). Textual drops the entries of removed widgets from that list only when
`compact` changes (`Reactive._check_watchers`), and `compact` never changes. So every key ever drawn stays
reachable from the footer, with its render caches: its `StylesCache` keeps the `Strip`s of its lines, each
`Strip` keeps seven `FIFOCache`s, which keep `Segment`s and `Region`s. That was ~20 keys and ~110 caches
per typed turn, for the life of the app (textual issue #6666, open for 8.2.x).

`mutate_reactive` (public) re-sets `compact` to the value it already has: Textual then prunes the watchers
of closed widgets, which the removed keys are by the time `recompose` returns, and tells the live keys
the same value again (no visible change). Drop this class when Textual removes watchers with their owner.
"""

from __future__ import annotations

from textual.widgets import Footer


class KeyFooter(Footer):
    async def recompose(self) -> None:
        await super().recompose()
        self.mutate_reactive(Footer.compact)
