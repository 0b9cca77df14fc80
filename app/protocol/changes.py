"""Changes to a configuration as data: dotted paths to new values, computed from two configurations.

The settings screen edits a copy of the configuration as it was when the screen opened; what it sends is
the *difference*, applied to whatever is desired by then, so a nudge made meanwhile is not undone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from app.protocol.session import SessionConfig

Path = tuple[str, ...]
M = TypeVar("M", bound=BaseModel)


def _flatten(value: Any, prefix: Path, out: dict[Path, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            _flatten(inner, (*prefix, key), out)
    else:
        out[prefix] = value


def diff(before: BaseModel, after: BaseModel) -> dict[Path, Any]:
    """The leaves of `after` that differ from `before` (a section switched on or off is one leaf, and so is
    a section that became another kind of thing: its old fields must not linger)."""
    old_tree, new_tree = before.model_dump(mode="json"), after.model_dump(mode="json")
    old: dict[Path, Any] = {}
    new: dict[Path, Any] = {}
    _flatten(old_tree, (), old)
    _flatten(new_tree, (), new)
    # A section switched off is one null leaf where the section's leaves were, so it is caught here too.
    changed = {path: value for path, value in new.items() if old.get(path, _MISSING) != value}
    for key, section in new_tree.items():
        previous = old_tree.get(key)
        if isinstance(section, dict) and isinstance(previous, dict) and set(section) != set(previous):
            changed = {path: value for path, value in changed.items() if path[0] != key}
            changed[(key,)] = section
    return changed


def apply(model: M, changes: Mapping[Path, Any]) -> M:
    """`model` with `changes` set; raises pydantic's ValidationError if the result is not valid."""
    data = model.model_dump(mode="json")
    for path, value in changes.items():
        node = data
        for key in path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[path[-1]] = value
    return type(model).model_validate(data)


def nudge(field: str, delta: float, low: float, high: float) -> Callable[[SessionConfig], SessionConfig]:
    """A change that moves one turn-detection value, composed on whatever is desired when it applies."""
    def change(config: SessionConfig) -> SessionConfig:
        td = config.turn_detection
        if td is None:
            raise ValueError("Turn detection is off; turn it on in settings (s).")
        value = min(high, max(low, round(getattr(td, field) + delta, 2)))
        value = int(value) if isinstance(delta, int) else value
        return config.model_copy(update={"turn_detection": td.model_copy(update={field: value})})
    return change


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()
