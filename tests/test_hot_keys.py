"""The interrupt key acted on where the terminal delivers it (the driver's input thread), before the UI
loop: the real App's own driver class, fed keys from a thread as Textual's input thread feeds them."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

from textual import events

from app.hot_keys import HotKeys, hot_interrupt_keys
from app.widgets.prompt import MessagePrompt
from app.widgets.turn import AssistantTurn
from tests.helpers import may_run_realtime, wait_for
from tests.ui_harness import connected, make_app


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_hot_key_acts_only_while_armed_and_after_a_pause() -> None:
    clock, calls = Clock(), list[str]()
    hot = HotKeys(clock)
    hot.bind("i, ctrl+x", lambda: calls.append("stop"))
    assert not hot.take("i")  # not armed: the key goes on to the App
    assert hot.passed == 1
    hot.armed, hot.handled = True, 1
    clock.now += 1.0
    assert hot.take("i") and calls == ["stop"]
    clock.now += 0.1
    assert not hot.take("ctrl+x")  # 100 ms after a key: typing, left to the App
    clock.now += 1.0
    assert not hot.take("ctrl+x")  # the App has not dispatched the key passed on before it
    hot.handled = hot.passed
    clock.now += 1.0
    assert hot.take("ctrl+x") and not hot.take("j")
    assert calls == ["stop", "stop"] and hot.taken == 2


def test_a_failing_action_hands_the_key_to_the_app() -> None:
    def closed() -> None:
        raise RuntimeError("Event loop is closed")

    hot = HotKeys()
    hot.bind("i", closed)
    hot.armed = True
    assert not hot.take("i") and hot.passed == 1 and hot.taken == 0


def test_a_key_the_keymap_gives_another_binding_is_not_hot() -> None:
    assert hot_interrupt_keys({}) == "i"
    assert hot_interrupt_keys({"interrupt": "i,ctrl+x"}) == "i,ctrl+x"
    assert hot_interrupt_keys({"mute": "i"}) == ""
    assert hot_interrupt_keys({"interrupt": "x, i", "mute": "i"}) == "x"


async def _from_input_thread(driver: object, key: str) -> int:
    """As Textual's input thread does it: `process_message` on a thread that is not the UI loop's. Returns
    that thread's scheduling policy afterwards, as the kernel reports it."""
    policy: list[int] = []

    def deliver() -> None:
        driver.process_message(events.Key(key, key))  # type: ignore[attr-defined]
        policy.append(os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK)

    thread = threading.Thread(target=deliver)
    thread.start()
    await asyncio.to_thread(thread.join)
    return policy[0]


async def test_i_stops_the_reply_from_the_input_thread_but_is_a_letter_in_the_prompt(tmp_path: Path) -> None:
    app, emulator = make_app(tmp_path, speed=0.5)
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(app)
        driver = app.get_driver_class()(app)  # the class a terminal run uses, with the platform's driver
        app.control.send_text("talk for a while")
        await wait_for(lambda: app.main.query(AssistantTurn), timeout=15)
        await wait_for(lambda: app.hot_keys.armed)
        policy = await _from_input_thread(driver, "i")
        assert app.hot_keys.taken == 1  # acted on there, and not passed to the App
        # That thread is on the interrupt's path: real-time where allowed; the UI's own thread never is.
        assert policy == (os.SCHED_FIFO if may_run_realtime() else os.SCHED_OTHER)
        assert os.sched_getscheduler(0) == os.SCHED_OTHER
        await wait_for(lambda: any(e["type"] == "response.cancel" for e in emulator.sessions[-1].received), timeout=5)
        await wait_for(lambda: app.main.query(AssistantTurn)[0].has_class("-interrupted"), timeout=10)

        await pilot.press("t")  # the prompt has focus: `i` is typed, not acted on
        prompt = app.main.query_one(MessagePrompt)
        await wait_for(lambda: not app.hot_keys.armed)
        await _from_input_thread(driver, "i")
        await wait_for(lambda: prompt.value == "i", timeout=5)
        assert app.hot_keys.taken == 1
        await pilot.press("escape")
        await wait_for(lambda: app.hot_keys.armed)

        await pilot.press("question_mark")  # another screen in front: not armed
        await wait_for(lambda: not app.hot_keys.armed)
        await pilot.press("escape")
        await wait_for(lambda: app.hot_keys.armed)
