"""The command palette's own commands, with category prefixes ("audio: mute") so they group when typed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.app import SystemCommand

from app.protocol.turn_labels import turn_label

if TYPE_CHECKING:
    from app.tui import VoiceLiveApp


def palette_commands(app: VoiceLiveApp) -> Iterator[SystemCommand]:
    main = app.main
    commands: list[tuple[str, str, Callable[[], object]]] = [
        ("audio: mute / unmute", "Stop or resume sending the microphone", main.action_toggle_mute),
        ("audio: interrupt", "Stop the assistant now", main.action_interrupt),
        ("audio: reopen devices", "Open the microphone and speaker again", app.action_reopen_audio),
        ("session: settings", "Voice, turn detection, noise, echo, devices", main.action_open_settings),
        ("session: reconnect", "Close the connection and open a new one", app.action_reconnect),
        ("export: transcript as Markdown", "Write the conversation to a .md file",
         lambda: app.action_export("markdown")),
        ("export: transcript as JSONL", "Write the conversation to a .jsonl file",
         lambda: app.action_export("jsonl")),
        ("view: switch theme", "Toggle between the dark and light theme", app.action_switch_theme),
        ("view: clear log", "Remove the turns from the screen (the transcript keeps them)", main.log_view.clear),
        ("view: turn details", "Latency, tokens and the turn's timeline under each reply", main.action_toggle_details),
        ("view: help", "Every key binding", main.action_help),
        ("preset: compare", "Medians of your turns per turn-detection setting, side by side", main.action_presets),
        ("preset: save the live settings as…", "Name the turn detection in use now as a preset",
         partial(main.action_presets, True)),
    ]
    for name in main.book.names:
        label = turn_label(main.book.presets[name].turn_detection)
        commands.append((f"preset: use {name}", f"Turn detection: {label}", partial(main.use_preset, name)))
    for title, help_text, callback in commands:
        yield SystemCommand(title, help_text, callback)
