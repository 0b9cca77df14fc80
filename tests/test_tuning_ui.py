"""The tuning instrument under Pilot: nudges that never get lost (counted at a scripted service), a refusal
that rolls back, push-to-talk without audio, presets saved and switched, the voice picker, token usage.

The real App runs against a real socket each time: the scripted `SlowService` or the emulator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandList, CommandPalette
from textual.widgets import DataTable, Input, Select

from app.cli import _flags, _run_parser
from app.config import default_config_path, load_settings, read_toml
from app.messages import message_for
from app.protocol.session import quickstart_turn_detection
from app.protocol.turn_labels import turn_key, turn_label
from app.screens.presets import PresetsScreen
from app.screens.settings import SettingsScreen
from app.screens.talk_key import TalkKey
from app.screens.voice_picker import VoicePicker
from app.services import Services
from app.tui import VoiceLiveApp
from app.voicelive import notices as nt
from app.voicelive.timeline import Summary, TurnTiming
from app.widgets.turn import AssistantTurn, NoticeLine
from tests.helpers import wait_for
from tests.scripted_service import SlowService, serve_slowly
from tests.ui_harness import connected, make_app

KEY = "test-key-0123456789"


def slow_app(tmp_path: Path, service: SlowService) -> VoiceLiveApp:
    settings = load_settings({("connection", "endpoint"): service.endpoint, ("connection", "api_key"): KEY},
                             environ={})
    return VoiceLiveApp(settings, Services(audio_error="Audio is off in this test: text mode.",
                                           transcript_dir=str(tmp_path / "transcripts")))


def notices_text(app: VoiceLiveApp) -> list[str]:
    return [str(line.render()) for line in app.main.query(NoticeLine)]


async def test_eight_quick_nudges_end_confirmed_at_the_last_value(tmp_path: Path) -> None:
    async with serve_slowly(SlowService(delay_s=0.3)) as service:
        app = slow_app(tmp_path, service)
        states: list[Any] = []
        async with app.run_test(size=(80, 24), message_hook=states.append) as pilot:
            await connected(app)
            await pilot.press(*["right_square_bracket"] * 8)
            await wait_for(lambda: not app.main.status.pending and "0.70" in app.main.status.vad, timeout=15)
            sent = service.thresholds()
            assert sent[0] == pytest.approx(0.30) and sent[-1] == pytest.approx(0.70)
            assert sent == sorted(sent) and len(set(sent)) == len(sent)  # each a step further, none repeated
            assert service.most_in_flight() == 1
            confirmed = app.session.config.confirmed
            assert confirmed is not None and confirmed.turn_detection is not None
            assert confirmed.turn_detection.threshold == pytest.approx(0.70)
            shown = [m.notice for m in states if isinstance(getattr(m, "notice", None), nt.ConfigChanged)]
            assert any(n.pending and n.desired.turn_detection.threshold == pytest.approx(0.70) for n in shown)
            line = str(app.main.status.render())
            assert "semantic 0.70 200ms ✓" in line and line.index("✓") < 80  # the whole value fits at 80 columns


async def test_a_refused_nudge_rolls_back_and_says_why(tmp_path: Path) -> None:
    async with serve_slowly(SlowService(delay_s=0.1, refuse_threshold_above=0.37)) as service:
        app = slow_app(tmp_path, service)
        async with app.run_test(size=(80, 24)) as pilot:
            await connected(app)
            await pilot.press(*["right_square_bracket"] * 3)
            await wait_for(lambda: any("threshold too high for us" in t for t in notices_text(app)), timeout=10)
            await wait_for(lambda: not app.main.status.pending, timeout=5)
            assert "semantic 0.35 200ms" in app.main.status.vad and "✓" in str(app.main.status.render())
            assert max(service.thresholds()) > 0.37  # the refused value did reach the service
            assert app.main.mic_meter.threshold == pytest.approx(0.35)


async def test_push_to_talk_without_audio_says_the_turn_was_empty(tmp_path: Path) -> None:
    app, emulator = make_app(tmp_path, flags={("push_to_talk",): True})
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(app)
        assert "push-to-talk" in app.main.status.vad and app.main.status.talk == "idle"
        assert app.main.mic_meter.talking is False
        keys = {active.binding.key for active in app.main.active_bindings.values()}
        assert "space" in keys and "right_square_bracket" not in keys  # the footer offers what works now
        await pilot.press("space")
        await wait_for(lambda: app.main.status.talk == "talking", timeout=5)
        await pilot.press("space")
        await wait_for(lambda: any("Nothing was sent to answer" in t for t in notices_text(app)), timeout=5)
        assert app.main.status.talk == "idle"
        received = [e["type"] for e in emulator.sessions[-1].received]
        assert "input_audio_buffer.clear" in received and "input_audio_buffer.commit" in received
        assert "response.create" not in received
        assert emulator.sessions[-1].session["turn_detection"] is None


def test_the_push_to_talk_flag_reaches_the_settings() -> None:
    flags = _flags(_run_parser().parse_args(["--local", "--push-to-talk"]))
    assert load_settings(flags, environ={}).push_to_talk
    assert not load_settings(_flags(_run_parser().parse_args(["--local"])), environ={}).push_to_talk


def test_the_talk_key_taps_and_holds() -> None:
    key = TalkKey(repeat_gap_s=0.15)
    assert key.press(0.0) == "start"
    assert key.press(3.0) == "hold" and not key.due(3.1) and key.due(3.15)  # a tap ends the turn 0.15 s later
    assert key.press(4.0) == "start"
    key.reset()  # the session ended the turn (push-to-talk switched off, the connection dropped)
    assert key.press(4.04) == "ignore"  # the key is still held: its repeats start nothing
    assert key.press(5.0) == "start"  # held from here: repeats every 40 ms after 0.5 s
    for n in range(20):
        assert key.press(5.5 + n * 0.04) == "hold" and not key.due(5.5 + n * 0.04 + 0.03)
    assert key.due(5.5 + 19 * 0.04 + 0.15)  # released: the repeats stopped


async def test_presets_are_saved_switched_and_compared(tmp_path: Path) -> None:
    app, emulator = make_app(tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(app)
        await pilot.press("p")
        await wait_for(lambda: isinstance(app.screen, PresetsScreen))
        await pilot.press("n", *"quick", "enter")
        await wait_for(lambda: "quick" in app.main.book.presets, timeout=5)
        saved = read_toml(default_config_path())["presets"]["quick"]
        assert saved["type"] == "azure_semantic_vad" and saved["silence_duration_ms"] == 200
        await pilot.press("escape")
        await pilot.press(*["right_curly_bracket"] * 3)  # 500 ms silence: no longer the preset
        await wait_for(lambda: emulator.sessions[-1].session["turn_detection"]["silence_duration_ms"] == 500, 5)
        await pilot.press("ctrl+p")
        await wait_for(lambda: isinstance(app.screen, CommandPalette), timeout=5)
        await pilot.press(*"use quick")
        await wait_for(lambda: app.screen.query_one(CommandList).option_count > 0, timeout=5)
        await pilot.press("enter")
        await wait_for(lambda: emulator.sessions[-1].session["turn_detection"]["silence_duration_ms"] == 200, 5)

        slow = quickstart_turn_detection().model_copy(update={"silence_duration_ms": 500})
        timings = tuple(_timing(turn_key(td), turn_label(td), eot) for td, eot in
                        ((quickstart_turn_detection(), 640), (slow, 980)))
        summaries = (Summary(turn_key(quickstart_turn_detection()), "semantic 0.30 200ms", 4, 640, 120, 260, 1, 0),
                     Summary(turn_key(slow), "semantic 0.30 500ms", 3, 980, 130, 560, 0, 0))
        app.main.post_message(message_for(nt.TimelineChanged(timings, summaries, summaries[0].settings)))
        await wait_for(lambda: app.main.timeline is not None)
        await pilot.press("p")
        await wait_for(lambda: isinstance(app.screen, PresetsScreen))
        table = app.screen.query_one(DataTable)
        rows = [[str(cell) for cell in table.get_row_at(n)] for n in range(table.row_count)]
        assert rows[0][:5] == ["●", "quick", "semantic 0.30 200ms", "4", "640"]
        assert rows[1][1:5] == ["(unsaved)", "semantic 0.30 500ms", "3", "980"]
        await pilot.press("down", "enter")  # switch to the 500 ms row from the table
        await wait_for(lambda: emulator.sessions[-1].session["turn_detection"]["silence_duration_ms"] == 500, 5)


def _timing(key: str, label: str, eot: int) -> TurnTiming:
    return TurnTiming(key, label, None, None, 120, 260, 270, eot, eot - 80, 1500, False, False)


async def test_the_voice_picker_searches_and_takes_free_text(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path, autostart=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(lambda: app.main.desired is not None)
        await pilot.press("s")
        settings = app.screen
        assert isinstance(settings, SettingsScreen)
        await pilot.press("f4")
        await wait_for(lambda: isinstance(app.screen, VoicePicker))
        await pilot.press(*"andrew2", "enter")
        await wait_for(lambda: app.screen is settings)
        assert settings.query_one("#voice-name", Input).value == "en-US-Andrew2:DragonHDLatestNeural"
        await pilot.press("f4")
        await pilot.press(*"alloy", "enter")
        await wait_for(lambda: app.screen is settings)
        assert settings.query_one("#voice-type", Select).value == "openai"
        assert settings.query_one("#voice-name", Input).value == "alloy"
        await pilot.press("f4")
        await pilot.press(*"en-US-Contoso-Custom", "enter")  # not in the list: used as typed
        await wait_for(lambda: app.screen is settings)
        await pilot.pause()
        assert settings.query_one("#voice-type", Select).value == "azure-standard"
        assert settings.query_one("#voice-name", Input).value == "en-US-Contoso-Custom"
        assert settings.valid


async def test_usage_is_shown_per_turn_and_for_the_session(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(app)
        app.control.send_text("how much did that cost")
        await wait_for(lambda: app.main.query(AssistantTurn)
                       and not app.main.query(AssistantTurn)[0].has_class("-streaming"), timeout=15)
        await wait_for(lambda: app.main.status.tokens > 0, timeout=5)
        assert " tok" in str(app.main.status.render())
        await pilot.press("d")
        details = [str(label.render()) for label in app.main.query(".turn-details")]
        assert any("tokens in 10" in text for text in details), details


async def test_the_keys_of_the_other_turn_mode_say_why_they_do_nothing(tmp_path: Path) -> None:
    """Space without push-to-talk, and the nudges with it, are out of the footer, but pressed they say why."""
    app, emulator = make_app(tmp_path)
    notified: list[str] = []
    async with app.run_test(size=(80, 24), message_hook=lambda m: notified.append(
            str(m.notification.message)) if hasattr(m, "notification") else None) as pilot:
        await connected(app)
        keys = {active.binding.key for active in app.main.active_bindings.values()}
        assert "space" not in keys and "right_square_bracket" in keys  # the footer offers what works now
        await pilot.press("space")
        await wait_for(lambda: any("Push-to-talk is off" in t for t in notices_text(app)), timeout=5)
        await pilot.press("space", "space")  # again and again: counted on its line, not stacked
        await wait_for(lambda: any(t.endswith("×3") for t in notices_text(app)), timeout=5)
        assert sum("Push-to-talk is off" in t for t in notices_text(app)) == 1
        assert "input_audio_buffer.clear" not in [e["type"] for e in emulator.sessions[-1].received]
        app.main.use_turn_detection(None)  # push-to-talk on, as from a preset
        await wait_for(lambda: app.main.push_to_talk and not app.main.status.pending, timeout=5)
        await pilot.press("right_square_bracket")
        await wait_for(lambda: any("Turn detection is off" in t for t in notified), timeout=5)
        assert emulator.sessions[-1].session["turn_detection"] is None


async def test_text_from_the_service_is_shown_as_it_is_never_as_markup(tmp_path: Path) -> None:
    """A refusal's reason and a response's status come from the network: a `[/x]` in them is text, not a
    Rich markup tag (which would end the app with a MarkupError) and not a clickable `[@click=…]` action."""
    async with serve_slowly(SlowService(delay_s=0.05, refuse_threshold_above=0.32)) as service:
        service.refusal = "threshold [/b] too high; see [@click=app.quit]this[/]"
        service.response_status = "[/weird]"
        app = slow_app(tmp_path, service)
        notified: list[str] = []
        async with app.run_test(size=(80, 24), message_hook=lambda m: notified.append(
                str(m.notification.message)) if hasattr(m, "notification") else None) as pilot:
            await connected(app)
            await pilot.press("right_square_bracket")
            await wait_for(lambda: any("[/b]" in t for t in notified), timeout=5)
            await pilot.press("s")
            await wait_for(lambda: isinstance(app.screen, SettingsScreen), timeout=5)
            screen = app.screen
            assert isinstance(screen, SettingsScreen)
            screen.query_one("#vad-threshold", Input).value = "0.5"
            await pilot.pause()
            await pilot.press("f2")
            status = screen.query_one("#settings-status")
            await wait_for(lambda: "Not applied" in str(status.render()), timeout=5)
            assert "[@click=app.quit]this[/]" in str(status.render())
            await pilot.press("escape")
            app.control.send_text("hello")
            await wait_for(lambda: any("([/weird])" in str(label.render()) for turn in app.main.query(AssistantTurn)
                                       for label in turn.query(".turn-note")), timeout=5)
            assert app.is_running


async def test_a_preset_that_cannot_be_saved_says_why_and_the_app_goes_on(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(app)
        path = default_config_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("[session\nbroken = ")  # edited by hand meanwhile, and not TOML any more
        await pilot.press("p")
        await wait_for(lambda: isinstance(app.screen, PresetsScreen))
        await pilot.press("n", *"quick", "enter")
        screen = app.screen
        status = screen.query_one("#presets-status")
        await wait_for(lambda: "not valid TOML" in str(status.render()), timeout=5)
        assert app.is_running and "quick" not in app.main.book.presets
        assert path.read_text() == "[session\nbroken = "  # left as it was
