"""Full collections only in quiet moments: the pacer's rules, on a fake clock, and the interpreter's own
full collection really switched off while it runs (and given back after)."""

from __future__ import annotations

import asyncio
import gc
import importlib
import re

import pytest

from app.gc_pacer import NEVER, CollectionPacer, warm_first_markdown
from tests.helpers import wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _pacer(quiet: list[bool], clock: Clock, runs: list[float], young: list[int] | None = None,
           audible: list[bool] | None = None) -> CollectionPacer:
    count, playing = young or [0], audible or [False]
    return CollectionPacer(lambda: quiet[0], audible=lambda: playing[0], clock=clock,
                           collect=lambda: runs.append(clock.now), quiet_for_s=1.0, min_gap_s=20.0, max_gap_s=120.0,
                           max_young=150, max_defer_s=600.0, young=lambda: count[0])


def test_a_full_collection_waits_for_a_second_of_quiet_after_the_minimum_gap() -> None:
    clock, quiet, runs = Clock(), [True], list[float]()
    pacer = _pacer(quiet, clock, runs)
    for t in range(0, 41):  # quiet all along: the first one at 20 s, the next 20 s later
        clock.now = t * 0.5
        pacer.tick()
    assert runs == [20.0]
    quiet[0] = False
    for t in range(41, 100):  # busy from 20 s to 50 s: nothing, though 20 s have passed
        clock.now = t * 0.5
        pacer.tick()
    assert runs == [20.0]
    quiet[0] = True
    clock.now = 50.0
    assert not pacer.tick()  # quiet just began
    clock.now = 50.5
    assert not pacer.tick()
    clock.now = 51.0
    assert pacer.tick() and runs == [20.0, 51.0] and pacer.forced == 0


def test_a_session_that_never_pauses_is_collected_after_the_maximum_gap() -> None:
    clock, quiet, runs = Clock(), [False], list[float]()
    pacer = _pacer(quiet, clock, runs)
    for t in range(0, 2 * 250):
        clock.now = t * 0.5
        pacer.tick()
    assert runs == [120.0, 240.0] and pacer.forced == 2


def test_a_session_that_makes_garbage_fast_is_collected_once_enough_young_collections_ran() -> None:
    """400 typed turns back to back: the time limit alone let 100 MB of cycles pile up between collections."""
    clock, quiet, runs, young = Clock(), [False], list[float](), [0]
    pacer = _pacer(quiet, clock, runs, young)
    clock.now, young[0] = 5.0, 149
    assert not pacer.tick()
    young[0] = 150
    assert pacer.tick() and runs == [5.0] and pacer.forced == 1


def test_an_overdue_collection_waits_while_a_reply_plays_and_runs_when_it_stops() -> None:
    """A 3-minute reply: a collection forced at 120 s held the interpreter past the device's queue."""
    clock, quiet, runs, playing = Clock(), [False], list[float](), [True]
    pacer = _pacer(quiet, clock, runs, audible=playing)
    for t in range(0, 2 * 180):  # the reply plays from 0 to 180 s: nothing, though overdue from 120 s
        clock.now = t * 0.5
        pacer.tick()
    assert runs == [] and pacer.deferred == 1
    playing[0] = False  # the reply ends; the turn is still busy (not quiet), but nothing is heard now
    clock.now = 180.0
    assert pacer.tick() and runs == [180.0] and pacer.forced == 1


def test_a_reply_that_never_stops_defers_only_so_long() -> None:
    clock, quiet, runs, playing = Clock(), [False], list[float](), [True]
    pacer = _pacer(quiet, clock, runs, audible=playing)
    for t in range(0, 2 * 800):
        clock.now = t * 0.5
        pacer.tick()
    assert runs == [720.0]  # overdue at 120 s, deferred the 600 s most


async def test_it_switches_the_automatic_full_collection_off_and_gives_it_back() -> None:
    before = gc.get_threshold()
    ticks: list[int] = []

    def quiet() -> bool:
        ticks.append(1)
        return True

    pacer = CollectionPacer(quiet, every_s=0.01, min_gap_s=3600)
    pacer.start(asyncio.get_running_loop())
    try:
        assert gc.get_threshold() == (before[0], before[1], NEVER)
        await wait_for(lambda: len(ticks) >= 3, timeout=5)  # it checks on the loop it was given
    finally:
        pacer.stop()
    assert gc.get_threshold() == before
    count = len(ticks)
    await asyncio.sleep(0.05)
    assert len(ticks) == count  # and stops checking


async def test_a_start_that_comes_after_the_stop_takes_nothing_over() -> None:
    """Quitting before the start-up's freeze ran: the interpreter keeps its own full collections."""
    before = gc.get_threshold()
    pacer = CollectionPacer(lambda: True, every_s=0.01)
    pacer.stop()
    pacer.start(asyncio.get_running_loop())
    assert gc.get_threshold() == before


def test_after_start_up_a_first_markdown_reply_compiles_no_regular_expression(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first parse compiled ~30-40 ms of regular expressions on the UI thread mid-reply; start-up does it."""
    compiler = getattr(re, "_compiler", None) or importlib.import_module("sre_compile")  # 3.11+ / 3.10
    re.purge()
    warm_first_markdown()
    compiled: list[object] = []
    real = compiler.compile

    def counting(pattern: object, *args: object, **kwargs: object) -> object:
        compiled.append(pattern)
        return real(pattern, *args, **kwargs)

    monkeypatch.setattr(compiler, "compile", counting)
    from markdown_it import MarkdownIt

    MarkdownIt("gfm-like").parse("## Plan\n\nSee **this** at http://example.org/x, `y` and www.example.net.\n\n"
                                 "* a\n* b\n\n| k | v |\n|:-|-:|\n| 1 | 2 |\n\n```\nplain\n```\n")
    assert compiled == []
