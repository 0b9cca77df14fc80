"""A function's signature and docstring → a pydantic arguments model and the JSON schema the model sees.

The first docstring paragraph is the tool's description; an `Args:` section (Google style) describes the
parameters. Every parameter needs a type hint, and only named parameters can be described, so `*args`,
`**kwargs` and positional-only parameters are refused with a sentence that says which one.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, create_model

_SECTION = re.compile(r"^(Args|Arguments|Parameters|Params|Returns?|Raises|Yields?|Examples?|Notes?):\s*$")
_ARG_LINE = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


class SchemaError(ValueError):
    """The function cannot be described to the model; the message is one sentence naming the problem."""


@dataclass(frozen=True)
class ToolSchema:
    description: str
    parameters: dict[str, Any]
    arguments: type[BaseModel]


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """(description, {parameter: description}) from a Google-style docstring."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip() or _SECTION.match(line.strip()):
            break
        summary.append(line.strip())
    params: dict[str, str] = {}
    in_args, current, indent = False, None, 0
    for line in lines:
        stripped = line.strip()
        section = _SECTION.match(stripped)
        if section and len(line) - len(line.lstrip()) == 0:
            in_args, current = section.group(1) in ("Args", "Arguments", "Parameters", "Params"), None
            continue
        if not in_args or not stripped:
            continue
        depth = len(line) - len(line.lstrip())
        match = _ARG_LINE.match(stripped)
        if match and (current is None or depth <= indent):
            current, indent = match.group(1).lstrip("*"), depth
            params[current] = match.group(2).strip()
        elif current is not None and depth > indent:
            params[current] = f"{params[current]} {stripped}".strip()
    return " ".join(summary), params


def _strip_titles(schema: Any) -> Any:
    """Drop pydantic's generated `title`s: noise to the model, and they leak Python names."""
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if not (k == "title" and isinstance(v, str))}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


def build_schema(func: Callable[..., Any], *, name: str) -> ToolSchema:
    """Describe `func`; raise `SchemaError` (one sentence) when its signature cannot be described."""
    try:
        signature = inspect.signature(func)
        hints = typing.get_type_hints(func, include_extras=True)
    except (TypeError, ValueError, NameError) as exc:
        raise SchemaError(f"The tool {name!r} has type hints that cannot be resolved ({exc}).") from None
    description, arg_docs = parse_docstring(inspect.getdoc(func))
    fields: dict[str, Any] = {}
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise SchemaError(f"The tool {name!r} takes {'*' if param.kind == param.VAR_POSITIONAL else '**'}"
                              f"{param.name}, which a schema cannot describe; name each parameter.")
        if param.kind == param.POSITIONAL_ONLY:
            raise SchemaError(f"The tool {name!r} has a positional-only parameter {param.name!r}; "
                              "the model passes arguments by name.")
        if param.name not in hints:
            raise SchemaError(f"The tool {name!r} has no type hint for its parameter {param.name!r}.")
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (hints[param.name], Field(default, description=arg_docs.get(param.name) or None))
    try:
        model = create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
        parameters = _strip_titles(model.model_json_schema())
    except (PydanticUserError, TypeError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SchemaError(f"The tool {name!r} has a parameter type that cannot become a JSON schema ({first}).") \
            from None
    parameters.setdefault("properties", {})
    return ToolSchema(description=description, parameters=parameters, arguments=model)
