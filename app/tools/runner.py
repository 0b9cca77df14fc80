"""Running one tool call off the event loop, with a timeout, and turning every outcome into model input.

`ToolRunner.run` never raises: bad JSON, arguments that do not fit the schema, an exception in the tool,
a timeout or an unknown name all come back as a `ToolResult` whose `output` is JSON with an "error" field
(what the model reads) and whose `error` is one sentence (what the log and the UI show).

Each call runs in its own daemon thread, not a pool: a tool that never returns cannot be killed, and a
pool's worker would keep the process from exiting; a daemon thread is simply abandoned at the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from app.tools.registry import FunctionTool, ToolRegistry

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
MAX_OUTPUT_CHARS = 16_000  # what the model is given back; the rest is cut with a note


Refusal = Literal["declined", "never", "unknown"]


@dataclass(frozen=True)
class ToolResult:
    call_id: str
    name: str
    arguments: str
    output: str
    """The `function_call_output` text: the tool's result, or JSON with an "error" field."""
    error: str | None = None
    """One sentence when the call did not succeed (declined, refused, failed, timed out)."""
    duration_ms: int = 0
    refusal: Refusal | None = None
    """Set when the call was not run at all (declined by the user, disabled, unknown)."""

    @property
    def ok(self) -> bool:
        return self.error is None


def _error_output(message: str) -> str:
    return json.dumps({"error": message})


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def render_output(value: Any) -> str:
    """A tool's return value as the string the model receives (strings as they are, the rest as JSON)."""
    text = value if isinstance(value, str) else json.dumps(value, default=_jsonable, ensure_ascii=False)
    if len(text) > MAX_OUTPUT_CHARS:
        text = text[:MAX_OUTPUT_CHARS] + f"… [cut: the tool returned {len(text)} characters]"
    return text


def _describe_invalid(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "arguments"
        parts.append(f"{where}: {error['msg']}")
    more = f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
    return "; ".join(parts) + more


_REFUSALS: dict[Refusal, str] = {
    "declined": "The user declined to run the tool {name}.",
    "never": "The tool {name} is disabled by the user's settings.",
    "unknown": "There is no tool named {name}.",
}


class ToolRunner:
    def __init__(self, registry: ToolRegistry, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.registry = registry
        self.timeout_s = timeout_s

    def refuse(self, name: str, arguments: str, *, call_id: str, reason: Refusal) -> ToolResult:
        """A call that is not run (the user said no, the policy is `never`, or no such tool)."""
        sentence = _REFUSALS[reason].format(name=name)
        return ToolResult(call_id, name, arguments, _error_output(sentence), sentence, refusal=reason)

    async def run(self, name: str, arguments: str, *, call_id: str = "") -> ToolResult:
        """Validate and run one call in a thread; every failure becomes an error result, never an exception."""
        started = time.monotonic()

        def result(output: str, error: str | None = None) -> ToolResult:
            elapsed = int((time.monotonic() - started) * 1000)
            if error:
                log.info("tool %s failed after %d ms: %s", name, elapsed, error)
            else:
                log.info("tool %s returned after %d ms (%d chars)", name, elapsed, len(output))
            return ToolResult(call_id, name, arguments, output, error, elapsed)

        tool = self.registry.get(name)
        if tool is None:
            return self.refuse(name, arguments, call_id=call_id, reason="unknown")
        try:
            raw = json.loads(arguments) if arguments.strip() else {}
        except ValueError as exc:
            sentence = f"The arguments for {name} are not valid JSON ({exc})."
            return result(_error_output(sentence), sentence)
        if not isinstance(raw, dict):
            sentence = f"The arguments for {name} must be a JSON object."
            return result(_error_output(sentence), sentence)
        try:
            parsed = tool.arguments.model_validate(raw)
        except ValidationError as exc:
            sentence = f"Invalid arguments for {name}: {_describe_invalid(exc)}."
            return result(_error_output(sentence), sentence)
        kwargs = {key: getattr(parsed, key) for key in type(parsed).model_fields}
        try:
            value = await asyncio.wait_for(self._in_thread(tool, kwargs), self.timeout_s)
        except asyncio.TimeoutError:
            sentence = f"The tool {name} did not finish within {self.timeout_s:g} s."
            return result(_error_output(sentence), sentence)
        except Exception as exc:  # the user's code: any exception is a result for the model
            sentence = f"The tool {name} failed: {type(exc).__name__}: {str(exc)[:300]}"
            return result(_error_output(sentence), sentence)
        try:
            return result(render_output(value))
        except (TypeError, ValueError) as exc:
            sentence = f"The tool {name} returned something that cannot be sent ({exc})."
            return result(_error_output(sentence), sentence)

    @staticmethod
    def _in_thread(tool: FunctionTool, kwargs: dict[str, Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()

        def settle(ok: bool, value: Any) -> None:
            if future.done():  # timed out meanwhile: nobody waits for it any more
                return
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

        def work() -> None:
            try:
                value = tool.func(**kwargs)
                if inspect.isawaitable(value):
                    value = asyncio.run(_await(value))
                outcome: tuple[bool, Any] = (True, value)
            except BaseException as exc:  # everything the tool raises is reported, never fatal
                outcome = (False, exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
            with contextlib.suppress(RuntimeError):  # the loop has closed (the app quit while the tool ran)
                loop.call_soon_threadsafe(settle, *outcome)

        threading.Thread(target=work, name=f"tool-{tool.name}", daemon=True).start()
        return future


async def _await(awaitable: Any) -> Any:
    return await awaitable
