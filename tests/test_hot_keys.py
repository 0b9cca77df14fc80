"""The interrupt key acted on where the terminal delivers it (the driver's input thread), before the UI
loop: the real App's own driver class, fed keys from a thread as Textual's input thread feeds them."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from textual import events

from app.hot_keys import HotKeys
from app.widgets.prompt import MessagePrompt
from app.widgets.turn import AssistantTurn
from tests.helpers import wait_for
from tests.ui_harness import connected, make_app


def test_a_hot_key_acts_only_while_armed() -> None:
    hot, calls = HotKeys(), list[str]()
    hot.bind("i, ctrl+x", lambda: calls.append("stop"))
    assert not hot.take("i")  # not armed: the key goes on to the App
    hot.armed = True
    assert hot.take("i") and hot.take("ctrl+x") and not hot.take("j")
    assert calls == ["stop", "stop"] and hot.taken == 2


async def _from_input_thread(driver: object, key: str) -> None:
    """As Textual's input thread does it: `process_message` on a thread that is not the UI loop's."""
    thread = threading.Thread(target=driver.process_message, args=(events.Key(key, key),))  # type: ignore[attr-defined]
    thread.start()
    await asyncio.to_thread(thread.join)


async def test_i_stops_the_reply_from_the_input_thread_but_is_a_letter_in_the_prompt(tmp_path: Path) -> None:
    app, emulator = make_app(tmp_path, speed=0.5)
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(app)
        driver = app.get_driver_class()(app)  # the class a terminal run uses, with the platform's driver
        app.control.send_text("talk for a while")
        await wait_for(lambda: app.main.query(AssistantTurn), timeout=15)
        await wait_for(lambda: app.hot_keys.armed)
        await _from_input_thread(driver, "i")
        assert app.hot_keys.taken == 1  # acted on there, and not passed to the App
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
