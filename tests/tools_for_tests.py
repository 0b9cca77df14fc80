"""Function tools for the end-to-end tests, loaded by the app from this file as a user's module is.

Each call is also written to `tool-calls.jsonl` in the working directory (each test has its own), so a
test sees whether the function really ran, apart from what the app reports about it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

__all__ = ["explode", "lookup_order", "sleepy"]  # the tools; `calls` is for the tests
CALLS_FILE = "tool-calls.jsonl"


def _note(name: str, **arguments: object) -> None:
    with Path(CALLS_FILE).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"name": name, "arguments": arguments}) + "\n")


def lookup_order(order_id: str) -> dict[str, str]:
    """Look up an order and say where it is.

    Args:
        order_id: The order's number, such as "A-17".
    """
    _note("lookup_order", order_id=order_id)
    return {"order_id": order_id, "status": "shipped"}


def explode(reason: str = "on purpose") -> str:
    """A tool that always fails."""
    _note("explode", reason=reason)
    raise RuntimeError(f"the tool failed {reason}")


def sleepy(seconds: float = 3.0) -> str:
    """A tool that takes too long."""
    _note("sleepy", seconds=seconds)
    time.sleep(seconds)
    return "woke up"


def calls() -> list[dict[str, object]]:
    """What ran, in order."""
    path = Path(CALLS_FILE)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
