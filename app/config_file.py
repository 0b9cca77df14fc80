"""Saving settings: change only what the user changed, in the file the settings came from.

A save is a list of changes (a path like ("session", "turn_detection", "threshold") and its new value)
applied to the config file with tomlkit, so unrelated keys, a key stored with --save-key, comments and
layout stay as the user left them. One-off settings (--no-audio, --input-file, --log-level, an endpoint
from .env) never get in: they are not changes made in the settings screen, and the diff helpers compare
only what that screen edits. Every function here blocks on the disk: the UI calls them off its loop, and
a failure is one `WriteError` sentence to show.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Table

from app.config import OFF_PATHS, AudioSettings, ConfigError, Settings, check_file
from app.files import WriteError, describe_os_error, save_private
from app.protocol import changes
from app.protocol.session import SessionConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

Changes = Mapping[tuple[str, ...], Any]
SCREEN_AUDIO_FIELDS = ("input_device", "output_device", "jitter_ms", "echo_gate", "barge_in")
"""The audio settings the settings screen edits; the rest (enabled, files, muted) are never saved by it."""


def session_changes(before: SessionConfig, after: SessionConfig) -> dict[tuple[str, ...], Any]:
    """Each leaf of the session that differs, as ("session", …) → new value (None: unset or switched off)."""
    return {("session", *path): value for path, value in changes.diff(before, after).items()}


def audio_changes(before: AudioSettings, after: AudioSettings) -> dict[tuple[str, ...], Any]:
    """The audio settings the settings screen edits that differ, as ("audio", name) → new value."""
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    return {("audio", name): new[name] for name in SCREEN_AUDIO_FIELDS if old[name] != new[name]}


def settings_changes(settings: Settings) -> dict[tuple[str, ...], Any]:
    """What differs between `settings` and the same settings as loaded (session and screen audio)."""
    session, audio = settings.loaded
    return {**session_changes(session, settings.session), **audio_changes(audio, settings.audio)}


def _read_document(path: Path) -> tomlkit.TOMLDocument:
    if not path.exists():
        return tomlkit.document()
    try:
        return tomlkit.parse(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise WriteError(f"Could not save the settings to {path}: the file is not UTF-8 text.", path) from None
    except OSError as exc:
        raise WriteError(f"Could not save the settings to {path}: {describe_os_error(exc)}.", path) from None
    except TOMLKitError as exc:
        raise WriteError(f"Could not save the settings to {path}: the file is not valid TOML ({exc}).",
                         path) from None


def _plain(value: Any, path: tuple[str, ...]) -> Any:
    """TOML has no null: inside a table written whole, a setting switched off is `false`, one unset is left
    out (so the loader's defaults give it back as it was)."""
    if isinstance(value, Mapping):
        table = {}
        for key, item in value.items():
            if item is not None:
                table[key] = _plain(item, (*path, key))
            elif (*path, key) in OFF_PATHS:
                table[key] = False
        return table
    return value


def _apply(document: tomlkit.TOMLDocument, path: tuple[str, ...], value: Any, spaced: list[Table]) -> None:
    container: Any = document
    fresh = False
    for key in path[:-1]:
        node = container.get(key)
        if not isinstance(node, dict):  # missing, or a scalar in the way (turn_detection = false)
            node = tomlkit.table()
            container[key] = node
            if container is not document and not fresh:
                spaced.append(node)  # a new [a.b] inside an existing [a…] runs into the next header
            fresh = True
        elif isinstance(node, Table) and node.is_super_table():
            # It may get its own [header] now; the comment tomlkit keeps on it belongs to a sub-table's.
            node.trivia.comment = node.trivia.comment_ws = ""
        container = node
    leaf = path[-1]
    if value is None and path in OFF_PATHS:
        container[leaf] = False  # "switched off": the loader reads false as null for these
    elif value is None:
        if leaf in container:
            del container[leaf]
    else:
        container[leaf] = _plain(value, path)


def save_changes(path: Path, changes: Changes) -> Path:
    """Apply `changes` to the TOML file at `path` (created if missing), keeping everything else.

    The result is checked the way the app loads it before it replaces the file, so a save never leaves
    a config that stops the next start. Atomic, 0600 in a 0700 directory; raises `WriteError`.
    """
    document = _read_document(path)
    spaced: list[Table] = []
    for key_path, value in changes.items():
        _apply(document, key_path, value, spaced)
    for table in spaced:
        table.add(tomlkit.nl())
    text = document.as_string()
    try:
        check_file(tomllib.loads(text), path)
    except (ConfigError, tomllib.TOMLDecodeError) as exc:
        raise WriteError(f"The settings were not saved, as the file would not load: {exc}", path) from None
    return save_private(path, text, what="the settings")


def save_settings(settings: Settings) -> Path:
    """Save what changed since load into the file the settings came from (`Settings.config_path`)."""
    return save_changes(settings.config_path, settings_changes(settings))


def save_api_key(settings: Settings) -> Path:
    """`--save-key`: store the API key (only it) in the settings' config file; raises `WriteError`."""
    key = settings.connection.api_key
    if key is None or not key.get_secret_value():
        raise WriteError("There is no API key to save.")
    return save_changes(settings.config_path, {("connection", "api_key"): key.get_secret_value()})
