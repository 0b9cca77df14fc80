"""`@tool`: the optional mark on a user's tool function (safe to run without asking, or another name).

Plain functions are tools too; the decorator only adds what a signature cannot say. It sets one attribute
and returns the function unchanged, so a decorated function is still an ordinary function in the user's
own tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])
MARK = "__voicelive_tool__"


@dataclass(frozen=True)
class ToolMark:
    safe: bool = False
    """Runs without asking (policy `auto`) unless the config says otherwise; for read-only tools."""
    name: str | None = None
    """The name the model sees, when it should differ from the function's."""


@overload
def tool(func: F, /) -> F: ...
@overload
def tool(*, safe: bool = False, name: str | None = None) -> Callable[[F], F]: ...


def tool(func: F | None = None, /, *, safe: bool = False, name: str | None = None) -> F | Callable[[F], F]:
    """Mark a function as a tool: `@tool`, `@tool(safe=True)` or `@tool(name="lookup")`."""

    def mark(target: F) -> F:
        setattr(target, MARK, ToolMark(safe=safe, name=name))
        return target

    return mark(func) if func is not None else mark


def mark_of(func: Callable[..., Any]) -> ToolMark | None:
    found = getattr(func, MARK, None)
    return found if isinstance(found, ToolMark) else None
