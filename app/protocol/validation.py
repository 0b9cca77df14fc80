"""The first pydantic error as words a person reads: which field, and what is wrong with it.

Settings files, the settings form and the emulator's `session.update` all judge input with the same
pydantic models; this is the one place that turns their verdict into a phrase ("must be less than or
equal to 1", "is not a known setting") so the three say it the same way. Pure: protocol imports nothing
else of the app, so everyone may import this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import ValidationError

_PHRASES = {
    "extra_forbidden": "is not a known setting",
    "missing": "is required",
}
_VALUE_ERROR = "Value error, "
_SHOULD = re.compile(r"^(?:Input|String|List|Value|Dictionary|Tuple|Set|Object|Decimal|Number) should ")


@dataclass(frozen=True)
class FieldProblem:
    """One validation failure: the field's path and a phrase to put after its name."""

    loc: tuple[str, ...]
    """Where, as field names (list indices as digits); pydantic's validator and union-tag steps left out."""
    phrase: str
    """What is wrong, lower-case and without a final period: 'must be a valid integer'."""
    kind: str
    """pydantic's error type ('less_than_equal', 'extra_forbidden', …), for callers that branch on it."""

    @property
    def field(self) -> str:
        """The dotted path ('session.turn_detection.threshold'), or 'value' for the whole input."""
        return ".".join(self.loc) or "value"

    def sentence(self, label: str | None = None) -> str:
        """'<label or field> <phrase>.' — one sentence."""
        return f"{label or self.field} {self.phrase}."


def _is_step(part: str | int) -> bool:
    return str(part).startswith(("function-", "json-or-python", "tagged-union"))


def first_problem(exc: ValidationError) -> FieldProblem:
    """The first error of a ValidationError, in words."""
    first = exc.errors()[0]
    kind = str(first["type"])
    loc = tuple(str(p) for p in first["loc"] if not _is_step(p))
    phrase = _PHRASES.get(kind)
    if phrase is None:
        phrase = _SHOULD.sub("must ", str(first["msg"]).rstrip(".").removeprefix(_VALUE_ERROR))
        if not phrase.startswith(("must ", "is ", "cannot ", "has ")):
            phrase = "is invalid: " + phrase
    return FieldProblem(loc, phrase, kind)


def error_sentence(exc: ValidationError, *, where: str | None = None) -> str:
    """'Invalid setting in <where>: <field> <phrase>.', or just '<field> <phrase>.' without `where`."""
    problem = first_problem(exc)
    return f"Invalid setting in {where}: {problem.sentence()}" if where else problem.sentence()
