"""The real App under Pilot against the emulator: every key, the palette, settings, quitting, load."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

from textual.command import CommandList, CommandPalette
from textual.message import Message
from textual.notifications import Notify
from textual.widgets import Input, Select

from app.emulator.server import EmulatorServer
from app.messages import message_for
from app.screens.help import HelpScreen
from app.screens.settings import SettingsScreen
from app.voicelive import notices as nt
from app.widgets.prompt import MessagePrompt
from app.widgets.turn import AssistantTurn, NoticeLine, UserTurn
from tests.helpers import wait_for
from tests.ui_harness import connected, make_app


def _updates(emulator: EmulatorServer) -> list[dict[str, Any]]:
    return [e for e in emulator.sessions[-1].received if e["type"] == "session.update"]


async def test_type_a_message_and_get_a_reply_then_quit_cleanly(tmp_path: Path) -> None:
    app, emulator = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(app)
        await pilot.press("t")
        prompt = app.main.query_one(MessagePrompt)
        assert prompt.has_class("-visible") and prompt.has_focus
        await pilot.press(*"hi, it is me", "enter")  # `i` in a text field is a letter, not an interrupt
        await wait_for(lambda: app.main.query(AssistantTurn)
                       and not app.main.query(AssistantTurn)[0].has_class("-streaming"), timeout=15)
        user = app.main.query(UserTurn)[0]
        assert "hi, it is me" in str(user.query_one(".turn-body").render())
        assert app.main.query(AssistantTurn)[0].text.startswith("You typed: hi, it is me")
        assert not any(e["type"] == "response.cancel" for e in emulator.sessions[-1].received)
        await pilot.press("escape")
        assert not prompt.has_class("-visible") and not prompt.has_focus
        await pilot.press("q")
    assert app.return_code == 0
    assert emulator.sessions[-1].close_code == 1000
    lines = [json.loads(line) for line in app.transcript_path.read_text().splitlines()]
    assert [r["role"] for r in lines] == ["user", "assistant"] and lines[1]["status"] == "completed"


async def test_mute_shows_in_the_status_bar_and_stops_sending(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(app)
        await pilot.press("m")
        assert app.main.status.muted and app.main.mic_meter.muted
        await wait_for(lambda: app.main.status.muted and app.main.mic_meter.muted)
        assert app.session.muted and not app.session.outbox.accepting_audio
        assert "MUTED" in str(app.main.status.render())
        await pilot.press("m")
        await wait_for(lambda: not app.main.status.muted and app.session.outbox.accepting_audio)


async def test_interrupt_key_cancels_the_reply(tmp_path: Path) -> None:
    app, emulator = make_app(tmp_path, speed=0.5)
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(app)
        app.control.send_text("talk for a while")
        await wait_for(lambda: app.main.query(AssistantTurn), timeout=15)
        await pilot.press("i")
        await wait_for(lambda: app.main.query(AssistantTurn)[0].has_class("-interrupted"), timeout=10)
        assert any(e["type"] == "response.cancel" for e in emulator.sessions[-1].received)
        assert next(iter(emulator.sessions[-1].replies.values())).status == "cancelled"


async def test_nudges_change_turn_detection_live(tmp_path: Path) -> None:
    app, emulator = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(app)
        before = len(_updates(emulator))
        await pilot.press("right_square_bracket", "right_square_bracket", "right_curly_bracket")
        await wait_for(lambda: emulator.sessions[-1].session["turn_detection"]["silence_duration_ms"] == 300, 5)
        td = emulator.sessions[-1].session["turn_detection"]
        assert (td["threshold"], td["silence_duration_ms"]) == (0.4, 300)
        assert before < len(_updates(emulator)) <= before + 3  # quick presses may share an update
        await wait_for(lambda: not app.main.status.pending)
        assert app.main.mic_meter.threshold == 0.4 and "0.40 300ms" in app.main.status.vad
        await pilot.press("left_square_bracket", "left_curly_bracket", "left_curly_bracket")
        await wait_for(lambda: emulator.sessions[-1].session["turn_detection"]["silence_duration_ms"] == 100, 5)
        assert emulator.sessions[-1].session["turn_detection"]["threshold"] == 0.35


async def test_help_lists_every_binding(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path, autostart=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = {key for key, _ in app.screen.rows}
        for key in ("m", "i", "t", "s", "?", "[", "]", "{", "}", "d", "a", "q", "ctrl+p"):
            assert key in keys, (key, keys)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_details_toggle(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path, autostart=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("d")
        assert app.main.log_view.has_class("-details")
        await pilot.press("d")
        assert not app.main.log_view.has_class("-details")


async def test_keys_can_be_remapped_from_the_config(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path, autostart=False, flags={("keys",): {"mute": "x"}})
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("x")
        assert app.main.status.muted
        await pilot.press("m")
        assert app.main.status.muted  # m no longer mutes


async def _run(callback: object) -> None:
    result = callback()  # type: ignore[operator]
    if inspect.isawaitable(result):
        await result


async def test_palette_commands(tmp_path: Path) -> None:
    """Every palette command, each checked by what it did (a file, a screen, a frame at the emulator)."""
    app, emulator = make_app(tmp_path, speed=0.5)
    seen: list[Message] = []
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await connected(app)
        app.control.send_text("export me")
        turns = app.session.conversation.turns
        await wait_for(lambda: len(turns) == 2, timeout=15)
        titles = {c.title: c for c in app.get_system_commands(app.screen)}
        await _run(titles["audio: interrupt"].callback)  # the reply is still arriving at half speed
        await wait_for(lambda: any(e["type"] == "response.cancel" for e in emulator.sessions[-1].received), 5)
        await wait_for(lambda: turns[1].done, timeout=5)
        await pilot.press("ctrl+p")
        await wait_for(lambda: isinstance(app.screen, CommandPalette), timeout=5)
        await pilot.press(*"export markdown")
        await wait_for(lambda: app.screen.query_one(CommandList).option_count > 0, timeout=5)
        await pilot.press("enter")
        stem = app.transcript_path.with_suffix("")
        exported = stem.with_name(stem.name + "-export.md")
        await wait_for(exported.exists, timeout=5)
        text = exported.read_text()
        assert "**You**" in text and "export me" in text and "**Assistant**" in text
        await _run(titles["export: transcript as JSONL"].callback)
        jsonl = stem.with_name(stem.name + "-export.jsonl")
        await wait_for(jsonl.exists, timeout=5)
        assert [json.loads(line)["role"] for line in jsonl.read_text().splitlines()] == ["user", "assistant"]
        dark = app.current_theme.dark
        await _run(titles["view: switch theme"].callback)
        assert app.current_theme.dark != dark
        await _run(titles["audio: mute / unmute"].callback)
        await wait_for(lambda: app.main.status.muted and not app.session.outbox.accepting_audio)
        await _run(titles["view: clear log"].callback)
        assert not app.main.query(UserTurn) and len(turns) == 2
        await _run(titles["view: turn details"].callback)
        assert app.main.log_view.has_class("-details")
        await _run(titles["view: help"].callback)
        await wait_for(lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await _run(titles["session: settings"].callback)
        await wait_for(lambda: isinstance(app.screen, SettingsScreen))
        await pilot.press("escape")
        await _run(titles["audio: reopen devices"].callback)  # this test has no audio: it says so
        await wait_for(lambda: any(isinstance(m, Notify) and "Audio is off" in str(m.notification.message)
                                   for m in seen))
        first = emulator.sessions[-1]
        await _run(titles["session: reconnect"].callback)
        await wait_for(lambda: len(emulator.sessions) == 2 and app.main.status.state == "connected", timeout=10)
        assert first.close_code == 1000
        expected = {"audio: mute / unmute", "audio: interrupt", "audio: reopen devices", "session: settings",
                    "session: reconnect", "export: transcript as Markdown", "export: transcript as JSONL",
                    "view: switch theme", "view: clear log", "view: turn details", "view: help"}
        assert expected <= set(titles)


async def test_settings_apply_confirms_and_goes_live(tmp_path: Path) -> None:
    app, emulator = make_app(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await connected(app)
        await pilot.press("s")
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        screen.query_one("#vad-threshold", Input).value = "0.55"
        screen.query_one("#vad-type", Select).value = "server_vad"
        await pilot.pause()
        assert screen.valid
        await pilot.press("f2")
        status = screen.query_one("#settings-status")
        assert "applying" in str(status.render()) or "Applied" in str(status.render())
        await wait_for(lambda: "Applied" in str(status.render()), timeout=5)
        td = emulator.sessions[-1].session["turn_detection"]
        assert td["type"] == "server_vad" and td["threshold"] == 0.55
        await pilot.press("escape")
        assert "server-vad 0.55" in app.main.status.vad


async def test_invalid_settings_show_a_field_error_and_send_nothing(tmp_path: Path) -> None:
    app, emulator = make_app(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await connected(app)
        sent = len(_updates(emulator))
        await pilot.press("s")
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        screen.query_one("#vad-threshold", Input).value = "1.7"
        await pilot.pause()
        assert not screen.valid and screen.query_one("#row-vad-threshold").has_class("-invalid")
        assert "less than or equal to 1" in str(screen.query_one("#error-vad-threshold").render())
        await pilot.press("f2")
        await pilot.pause(0.3)
        assert len(_updates(emulator)) == sent
        assert "nothing was sent" in str(screen.query_one("#settings-status").render())


async def test_a_server_rejection_rolls_the_form_back(tmp_path: Path) -> None:
    app, emulator = make_app(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await connected(app)
        app.control.send_text("say something first")  # once it has spoken, the voice is fixed
        turns = app.session.conversation.turns
        await wait_for(lambda: len(turns) == 2 and turns[1].done, timeout=15)
        await pilot.press("s")
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        screen.query_one("#voice-name", Input).value = "en-US-GuyNeural"
        await pilot.pause()
        await pilot.press("f2")
        status = screen.query_one("#settings-status")
        await wait_for(lambda: "Not applied" in str(status.render()), timeout=5)
        assert "voice cannot be changed" in str(status.render())
        assert screen.query_one("#voice-name", Input).value == "en-US-Ava:DragonHDLatestNeural"
        assert emulator.sessions[-1].session["voice"]["name"] == "en-US-Ava:DragonHDLatestNeural"


async def test_settings_save_writes_the_config_file(tmp_path: Path) -> None:
    from app.config import default_config_path, read_toml

    app, _ = make_app(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await connected(app)
        await pilot.press("s")
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        screen.query_one("#vad-silence", Input).value = "650"
        await pilot.pause()
        await pilot.press("f3")
        await wait_for(default_config_path().exists, timeout=5)
    saved = read_toml(default_config_path())
    assert saved["session"]["turn_detection"]["silence_duration_ms"] == 650
    assert "api_key" not in saved.get("connection", {})


async def test_two_thousand_deltas_stream_without_falling_behind(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path, autostart=False)
    async with app.run_test(size=(100, 30)):
        app.main.post_message(message_for(nt.AssistantTurnStarted("item_1", "resp_1")))
        words = [f"word{n} " for n in range(2000)]
        for word in words:
            app.main.post_message(message_for(nt.AssistantTextDelta("item_1", word)))
        app.main.post_message(message_for(nt.AssistantTurnEnded("item_1", "completed", "".join(words))))
        await wait_for(lambda: app.main.query(AssistantTurn)
                       and not app.main.query(AssistantTurn)[0].has_class("-streaming"), timeout=30)
        turn = app.main.query(AssistantTurn)[0]
        assert turn.text == "".join(words)
        await wait_for(lambda: app.main.log_view.following, timeout=5)  # it keeps the newest text in view


async def test_errors_are_shown_inline_and_the_session_goes_on(tmp_path: Path) -> None:
    app, emulator = make_app(tmp_path)
    emulator.options.error_after_events = 2
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(app)
        await wait_for(lambda: any("injected server error" in str(n.render())
                                   for n in app.main.query(NoticeLine)), timeout=5)
        app.control.send_text("still there?")
        turns = app.session.conversation.turns
        await wait_for(lambda: len(turns) == 2 and turns[1].done, timeout=15)
        await pilot.press("q")


async def test_a_long_session_keeps_a_bounded_number_of_widgets(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path, autostart=False)
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.main.log_view
        log.max_widgets = 20
        for n in range(30):
            app.main.post_message(message_for(nt.UserTurnAdded(f"u{n}", f"message {n}")))
        await pilot.pause()
        await wait_for(lambda: log.trimmed == 10, timeout=5)
        assert len(log.children) == 20 and log.user_turn("u0") is None and log.user_turn("u29") is not None


async def test_starting_muted_from_the_config_shows_muted(tmp_path: Path) -> None:
    app, emulator = make_app(tmp_path, flags={("audio", "muted"): True})
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(app)
        assert app.main.status.muted and app.main.mic_meter.muted
        assert "MUTED" in str(app.main.status.render())
        app.session.submit_audio(b"\x01\x00" * 480)  # a block that reached the session anyway is not sent
        app.control.send_text("ping")
        await wait_for(lambda: any(e["type"] == "response.create" for e in emulator.sessions[-1].received))
        assert not [e for e in emulator.sessions[-1].received if e["type"] == "input_audio_buffer.append"]
        await pilot.press("m")
        await wait_for(lambda: not app.main.status.muted and not app.main.mic_meter.muted)


async def test_applying_settings_keeps_the_voice_fields_the_form_does_not_show(tmp_path: Path) -> None:
    """The form edits the voice's type, name and temperature and the transcription's model; a speaking rate
    or a transcription language from the config file is not on it, and applying a turn-detection change
    must not take them away from the live session."""
    app, emulator = make_app(tmp_path, flags={("session", "voice", "rate"): "1.2",
                                              ("session", "input_audio_transcription", "language"): "de-DE"})
    async with app.run_test(size=(100, 40)) as pilot:
        await connected(app)
        assert emulator.sessions[-1].session["voice"]["rate"] == "1.2"
        await pilot.press("s")
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        screen.query_one("#vad-silence", Input).value = "650"
        await pilot.pause()
        await pilot.press("f2")
        status = screen.query_one("#settings-status")
        await wait_for(lambda: "Applied" in str(status.render()), timeout=5)
        live = emulator.sessions[-1].session
        assert live["turn_detection"]["silence_duration_ms"] == 650
        assert live["voice"].get("rate") == "1.2"
        assert live["input_audio_transcription"].get("language") == "de-DE"
