"""Finding the user's tools: modules named in the config, and installed packages' entry points.

Which functions of a module are tools: those in its `__all__` when it has one, otherwise every public
function defined in it (helpers start with `_`). A module that fails to import, or a function that cannot
be described, becomes one sentence in `LoadResult.problems`; everything else still loads, so a typo in one
tool never keeps the app from starting.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import logging
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from pydantic import BaseModel

from app.protocol.tools import TOOL_NAME_PATTERN, FunctionToolDef
from app.tools.decorator import mark_of
from app.tools.schema import SchemaError, build_schema

log = logging.getLogger(__name__)

ToolPolicy = Literal["auto", "ask", "never"]
ENTRY_POINT_GROUP = "voicelive_tui.tools"
_NAME = re.compile(TOOL_NAME_PATTERN)


@dataclass(frozen=True)
class FunctionTool:
    """One user function, described: what the model is told, and what the runner calls."""

    name: str
    description: str
    parameters: dict[str, Any]
    arguments: type[BaseModel]
    func: Callable[..., Any]
    safe: bool = False
    source: str = ""  # the module (or entry point) it came from, for messages

    def definition(self) -> FunctionToolDef:
        return FunctionToolDef(name=self.name, description=self.description or None, parameters=self.parameters)


class ToolRegistry:
    """The loaded tools by name, and the policy for each: config override, else `auto` if safe, else `ask`."""

    def __init__(self, tools: Iterable[FunctionTool] = (), policies: Mapping[str, ToolPolicy] | None = None) -> None:
        self.tools: dict[str, FunctionTool] = {t.name: t for t in tools}
        self.policies: dict[str, ToolPolicy] = dict(policies or {})

    def __len__(self) -> int:
        return len(self.tools)

    def get(self, name: str) -> FunctionTool | None:
        return self.tools.get(name)

    def policy(self, name: str) -> ToolPolicy:
        if name in self.policies:
            return self.policies[name]
        found = self.tools.get(name)
        return "auto" if found is not None and found.safe else "ask"

    def definitions(self) -> list[FunctionToolDef]:
        """What `session.update` declares: every tool except those whose policy is `never`."""
        return [t.definition() for t in self.tools.values() if self.policy(t.name) != "never"]


def describe(func: Callable[..., Any], *, source: str = "") -> FunctionTool:
    """A function as a tool; raises `SchemaError` (one sentence) when it cannot be one."""
    mark = mark_of(func)
    name: str = (mark.name if mark and mark.name else None) or str(getattr(func, "__name__", ""))
    if not _NAME.match(name):
        raise SchemaError(f"The tool name {name!r} is not allowed (letters, digits, '_' and '-', at most 64).")
    schema = build_schema(func, name=name)
    return FunctionTool(name=name, description=schema.description, parameters=schema.parameters,
                        arguments=schema.arguments, func=func, safe=bool(mark and mark.safe), source=source)


def functions_of(module: ModuleType) -> list[Callable[..., Any]]:
    """The tool functions a module offers (see the module docstring for the rule)."""
    exported = getattr(module, "__all__", None)
    if isinstance(exported, (list, tuple)):
        found = [getattr(module, n, None) for n in exported]
        return [f for f in found if inspect.isfunction(f)]
    return [f for n, f in vars(module).items()
            if inspect.isfunction(f) and not n.startswith("_") and f.__module__ == module.__name__]


@dataclass
class LoadResult:
    registry: ToolRegistry
    problems: list[str] = field(default_factory=list)
    """One sentence per module, entry point or function that could not be loaded."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    detail = text[0][:160] if text else ""
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _import(spec: str, base_dir: Path) -> ModuleType:
    """A module by dotted name (from sys.path or `base_dir`), or by file path (`tools/clock.py`)."""
    if spec.endswith(".py") or "/" in spec or "\\" in spec:
        path = (base_dir / spec).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"no file {path}")
        module_name = "voicelive_user_tools_" + re.sub(r"\W", "_", path.stem)
        loader_spec = importlib.util.spec_from_file_location(module_name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[module_name] = module
        try:
            loader_spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(module_name, None)
            raise
        return module
    base = str(base_dir.resolve())
    if base not in sys.path:
        sys.path.insert(0, base)  # kept: a tool may import its sibling modules when it runs
    return importlib.import_module(spec)


def _add(found: dict[str, FunctionTool], problems: list[str], func: Callable[..., Any], source: str) -> None:
    try:
        described = describe(func, source=source)
    except SchemaError as exc:
        problems.append(f"{exc} It is left out.")
        return
    if described.name in found:
        problems.append(f"The tool {described.name!r} from {source} has the same name as one from "
                        f"{found[described.name].source}; the first one is kept.")
        return
    found[described.name] = described


def _entry_point_objects(group: str, problems: list[str]) -> list[tuple[str, Any]]:
    loaded: list[tuple[str, Any]] = []
    for entry in importlib.metadata.entry_points(group=group):
        try:
            loaded.append((f"entry point {entry.name!r}", entry.load()))
        except (Exception, SystemExit) as exc:  # a broken package must not stop the app
            problems.append(f"The tools entry point {entry.name!r} could not be loaded ({_first_line(exc)}); "
                            "going on without it.")
    return loaded


def load_tools(modules: Sequence[str], *, policies: Mapping[str, ToolPolicy] | None = None,
               entry_point_group: str | None = ENTRY_POINT_GROUP, base_dir: Path | None = None) -> LoadResult:
    """Import every named module and entry point and describe their functions; never raises for user code."""
    found: dict[str, FunctionTool] = {}
    problems: list[str] = []
    base = base_dir or Path.cwd()
    sources: list[tuple[str, Any]] = []
    for spec in modules:
        try:
            sources.append((f"module {spec!r}", _import(spec, base)))
        except (Exception, SystemExit) as exc:  # user code: anything can go wrong while it imports
            problems.append(f"The tools module {spec!r} could not be imported ({_first_line(exc)}); "
                            "going on without it.")
    if entry_point_group:
        sources.extend(_entry_point_objects(entry_point_group, problems))
    for source, obj in sources:
        if isinstance(obj, ModuleType):
            functions = functions_of(obj)
            if not functions:
                problems.append(f"The tools {source} defines no public functions.")
            for func in functions:
                _add(found, problems, func, source)
        elif isinstance(obj, (list, tuple)):
            for func in obj:
                if callable(func):
                    _add(found, problems, func, source)
        elif callable(obj):
            _add(found, problems, obj, source)
        else:
            problems.append(f"The tools {source} is neither a module nor a function.")
    for name in policies or {}:
        if name not in found:
            problems.append(f"The tool policy for {name!r} names no loaded tool.")
    registry = ToolRegistry(found.values(), policies)
    log.info("tools loaded: %s", ", ".join(f"{n} ({registry.policy(n)})" for n in found) or "none")
    return LoadResult(registry, problems)
