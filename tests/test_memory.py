"""Memory that levels off: widgets that leave the screen are freed, and nothing is kept per typed turn.

Counted, not timed: after a garbage collection, which widgets are still alive (weak references, and the
objects the collector tracks by type). RSS is the benchmark's business (`python -m bench.memory_bench`).
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.css.stylesheet import Stylesheet
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Footer, Input

from app.tui import VoiceLiveApp
from app.widgets.footer import KeyFooter
from app.widgets.prompt import MessagePrompt
from tests.helpers import wait_for
from tests.ui_harness import connected, make_app


def _alive(kind: type) -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, kind))


def _finished(app: VoiceLiveApp) -> int:
    return sum(turn.done for turn in app.session.conversation.turns)


async def _type_turns(app: VoiceLiveApp, pilot: Pilot[int], first: int, count: int) -> None:
    """Typed as a user does: `t` focuses the prompt (the footer's keys change), Enter sends, Escape leaves."""
    prompt = app.screen.query_one(MessagePrompt)
    for n in range(first, first + count):
        await pilot.press("t")
        prompt.value = f"turn {n}"
        await pilot.press("enter", "escape")
        await wait_for(lambda: _finished(app) >= 2 * n, timeout=15)  # noqa: B023 (awaited in this iteration)
        await pilot.pause()


async def test_turns_trimmed_from_the_log_are_freed(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path, speed=100.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(app)
        log = app.main.log_view
        log.max_widgets = 6  # three typed turns on screen: the cap is reached at once
        await _type_turns(app, pilot, 1, 3)
        early = [weakref.ref(w) for turn in log.query(".turn") for w in (turn, *turn.walk_children())]
        await _type_turns(app, pilot, 4, 6)
        assert log.trimmed >= 6
        gc.collect()
        assert [ref() for ref in early if ref() is not None] == []
        assert len(log.query(".turn")) == 6
        await pilot.press("q")


async def test_typed_turns_keep_no_widgets_once_the_log_is_full(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path, speed=100.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(app)
        app.main.log_view.max_widgets = 6
        await _type_turns(app, pilot, 1, 4)
        before = _alive(Widget)
        await _type_turns(app, pilot, 5, 8)
        after = _alive(Widget)
        # Same screen, same number of turns in the log: every widget built for the later turns is gone.
        assert after <= before, f"{after - before} more widgets alive after 8 more turns"
        await pilot.press("q")


async def test_a_new_line_in_the_log_restyles_none_of_the_turns_above(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Textual restyles, after a mount at the end of a container, each child that an order rule (`:last-child`,
    …) might match, with its whole subtree; a rule ending in `*:last-child` (app/styles.tcss) made that every
    turn in the log, twice per typed turn. Each restyle of a Markdown block leaves one virtual node per
    component class as cyclic garbage: ~500 nodes (~27,000 objects) a turn with a full log, which only a
    full collection frees, so the heap's high-water mark rose by tens of MB between the pacer's collections."""
    app, _ = make_app(tmp_path, speed=100.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(app)
        await _type_turns(app, pilot, 1, 2)
        log = app.main.log_view
        above = [node for turn in log.query(".turn") for node in (turn, *turn.walk_children())]
        ids = {id(node) for node in above}
        restyled: list[str] = []
        apply = Stylesheet.apply

        styled_new: list[str] = []

        def counting_apply(self: Stylesheet, node: Any, **kwargs: Any) -> None:
            (restyled if id(node) in ids else styled_new).append(type(node).__name__)
            apply(self, node, **kwargs)

        monkeypatch.setattr(Stylesheet, "apply", counting_apply)
        await log.add_notice("a line at the end")
        await pilot.pause()
        await pilot.pause()
        assert styled_new  # the hook sees styling: the new line was styled through it
        assert restyled == []
        monkeypatch.undo()
        await pilot.press("q")


class _FooterApp(App[None]):
    """A screen whose footer keys change with focus, as the conversation screen's do with the prompt."""

    BINDINGS = [Binding("ctrl+x", "bell", "Ring")]

    def __init__(self, footer: type[Footer]) -> None:
        super().__init__()
        self._footer = footer

    def compose(self) -> ComposeResult:
        yield Input(id="field")
        yield self._footer()


async def _refocus(footer: type[Footer], changes: int) -> int:
    """How many more FooterKeys are alive after `changes` focus moves (each rebuilds the footer's keys)."""
    app = _FooterApp(footer)
    async with app.run_test() as pilot:
        field = app.query_one(Input)

        async def move_focus(count: int) -> None:
            for _ in range(count):
                if field.has_focus:
                    app.set_focus(None)
                else:
                    field.focus()
                await pilot.pause()

        await move_focus(2)
        key_type = type(app.query_one(footer).children[0])  # Textual's FooterKey, not exported
        before = _alive(key_type)
        await move_focus(changes)
        return _alive(key_type) - before


async def test_key_footer_frees_the_keys_it_rebuilds() -> None:
    assert await _refocus(KeyFooter, 20) <= 0


async def test_textual_footer_still_keeps_keys_it_rebuilt() -> None:
    """The Textual bug KeyFooter works around (textual#6666): here one dead key per focus move (the field
    and the app show one key, the app alone two). When this fails, Textual frees them itself: KeyFooter can go."""
    assert await _refocus(Footer, 20) >= 10
