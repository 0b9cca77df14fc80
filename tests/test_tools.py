"""Function tools: schemas from hints and docstrings, loading user modules, running calls, answering in order."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.protocol import client_events as ce
from app.tools import tool
from app.tools.calls import ToolCalls
from app.tools.registry import ToolRegistry, describe, load_tools
from app.tools.runner import MAX_OUTPUT_CHARS, ToolResult, ToolRunner
from app.tools.schema import SchemaError, parse_docstring

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _clean_imports() -> Iterator[None]:
    """User modules imported by a test must not leak into the next one."""
    before, path = set(sys.modules), list(sys.path)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]
    sys.path[:] = path


def write(directory: Path, name: str, source: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(source))
    return path


# ------------------------------------------------------------------------------------------- schemas
def lookup(city: str, days: int = 3, metric: bool = True) -> str:
    """Weather forecast for a city.

    Uses the national service when it can.

    Args:
        city: The city's name, as the user said it.
        days (int): How many days ahead,
            counting today.

    Returns:
        A short sentence.
    """
    return city


def test_the_schema_comes_from_hints_and_the_docstring() -> None:
    described = describe(lookup)
    assert described.description == "Weather forecast for a city."
    assert described.parameters == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "The city's name, as the user said it."},
            "days": {"type": "integer", "default": 3, "description": "How many days ahead, counting today."},
            "metric": {"type": "boolean", "default": True},
        },
        "required": ["city"],
        "additionalProperties": False,
    }
    assert described.definition().model_dump()["type"] == "function" and not described.safe


def test_docstrings_without_sections_or_at_all() -> None:
    assert parse_docstring("One line.") == ("One line.", {})
    assert parse_docstring(None) == ("", {})
    assert parse_docstring("Two\nlines.\n\nMore.") == ("Two lines.", {})


def _star(*cities: str) -> str:
    return ""


def _kw(**options: str) -> str:
    return ""


def _positional(city: str, /) -> str:
    return city


def _unhinted(city) -> str:  # type: ignore[no-untyped-def]
    return str(city)


def _unresolvable(city: NoSuchType) -> str:  # type: ignore[name-defined]  # noqa: F821
    return ""


def _unschematic(lock: threading.Condition) -> str:
    return ""


@pytest.mark.parametrize(("func", "words"), [
    (_star, "*cities"), (_kw, "**options"), (_positional, "positional-only"), (_unhinted, "no type hint"),
    (_unresolvable, "cannot be resolved"), (_unschematic, "cannot become a JSON schema"),
])
def test_functions_that_cannot_be_described_give_one_sentence(func: Any, words: str) -> None:
    with pytest.raises(SchemaError) as info:
        describe(func)
    message = str(info.value)
    assert words in message and message.endswith(".") and "\n" not in message


def test_the_decorator_marks_safe_and_renames() -> None:
    @tool(safe=True, name="weather")
    def anything(city: str) -> str:
        """Weather."""
        return city

    described = describe(anything)
    assert described.name == "weather" and described.safe
    assert anything("Oslo") == "Oslo"  # still an ordinary function
    with pytest.raises(SchemaError, match="not allowed"):
        describe(tool(name="has space")(lookup))


# ------------------------------------------------------------------------------------------- loading
MODULE = textwrap.dedent("""
    from __future__ import annotations
    from os.path import join  # imported functions are not tools
    from app.tools import tool

    @tool(safe=True)
    def ping(word: str = "pong") -> str:
        \"\"\"Answer with a word.\"\"\"
        return word

    def wipe(path: str) -> str:
        \"\"\"Delete a file (asks first).\"\"\"
        return "no"

    def _helper() -> None:
        pass
""")


def test_a_module_by_name_from_the_working_directory(tmp_path: Path) -> None:
    write(tmp_path, "mytools.py", MODULE)
    loaded = load_tools(["mytools"], base_dir=tmp_path, entry_point_group=None)
    assert loaded.problems == []
    registry = loaded.registry
    assert sorted(registry.tools) == ["ping", "wipe"]
    assert registry.policy("ping") == "auto" and registry.policy("wipe") == "ask"


def test_a_module_by_path_and_policy_overrides(tmp_path: Path) -> None:
    write(tmp_path, "mine.py", MODULE)
    loaded = load_tools(["mine.py"], base_dir=tmp_path, entry_point_group=None,
                        policies={"ping": "ask", "wipe": "never", "ghost": "auto"})
    assert loaded.problems == ["The tool policy for 'ghost' names no loaded tool."]
    registry = loaded.registry
    assert registry.policy("ping") == "ask" and registry.policy("wipe") == "never"
    assert [d.name for d in registry.definitions()] == ["ping"]  # a `never` tool is not offered at all


def test_all_limits_what_a_module_offers(tmp_path: Path) -> None:
    write(tmp_path, "limited.py", MODULE + '\n__all__ = ["wipe"]\n')
    assert list(load_tools(["limited"], base_dir=tmp_path, entry_point_group=None).registry.tools) == ["wipe"]


@pytest.mark.parametrize(("source", "words"), [
    ("raise RuntimeError('no database configured')\n", "RuntimeError: no database configured"),
    ("def broken(:\n", "SyntaxError"),
    ("import sys\nsys.exit(3)\n", "SystemExit"),
    ("import no_such_dependency_xyz\n", "ModuleNotFoundError"),
])
def test_a_module_that_fails_to_import_is_one_sentence_and_the_rest_loads(
        tmp_path: Path, source: str, words: str) -> None:
    write(tmp_path, "bad.py", source)
    write(tmp_path, "good.py", MODULE)
    loaded = load_tools(["bad", "good", "missing_module_abc"], base_dir=tmp_path, entry_point_group=None)
    assert sorted(loaded.registry.tools) == ["ping", "wipe"]
    assert len(loaded.problems) == 2
    first, second = loaded.problems
    assert first.startswith("The tools module 'bad' could not be imported") and words in first
    assert "'missing_module_abc'" in second
    assert all(p.endswith(".") and "\n" not in p for p in loaded.problems)


def test_bad_functions_are_left_out_one_sentence_each(tmp_path: Path) -> None:
    write(tmp_path, "mixed.py", MODULE + "\ndef untyped(x):\n    return x\n")
    write(tmp_path, "again.py", MODULE)
    loaded = load_tools(["mixed", "again"], base_dir=tmp_path, entry_point_group=None)
    assert sorted(loaded.registry.tools) == ["ping", "wipe"]
    assert any("no type hint for its parameter 'x'" in p and "left out" in p for p in loaded.problems)
    assert any("same name" in p and "'ping'" in p for p in loaded.problems)


def test_an_installed_package_offers_tools_through_the_entry_point_group(tmp_path: Path) -> None:
    write(tmp_path, "pkgtools.py", MODULE)
    write(tmp_path, "brokentools.py", "raise ImportError('gone')\n")
    dist = tmp_path / "pkgtools-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pkgtools\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[voicelive_tui.tools]\nmine = pkgtools\nsingle = pkgtools:ping\nbroken = brokentools\n")
    sys.path.insert(0, str(tmp_path))
    loaded = load_tools([], entry_point_group="voicelive_tui.tools")
    assert sorted(loaded.registry.tools) == ["ping", "wipe"]
    assert any("entry point 'broken' could not be loaded" in p for p in loaded.problems)


def test_the_example_module_ships_and_loads() -> None:
    loaded = load_tools(["examples/tools/clock_tools.py"], base_dir=ROOT, entry_point_group=None)
    assert loaded.problems == []
    registry = loaded.registry
    assert registry.policy("current_time") == "auto" and registry.policy("save_note") == "ask"
    assert "IANA" in registry.tools["current_time"].parameters["properties"]["timezone"]["description"]


# ------------------------------------------------------------------------------------------- running
def _registry(*funcs: Any) -> ToolRegistry:
    return ToolRegistry(describe(f) for f in funcs)


def add(a: int, b: int = 1) -> dict[str, int]:
    """Add two numbers."""
    return {"sum": a + b, "thread": threading.get_ident()}


def explode(reason: str) -> str:
    """Always fails."""
    raise ValueError(reason)


async def later(word: str) -> str:
    """An async tool."""
    await asyncio.sleep(0)
    return word.upper()


def huge() -> str:
    """Too much output."""
    return "x" * (MAX_OUTPUT_CHARS + 500)


async def test_a_call_runs_in_another_thread_with_validated_arguments() -> None:
    result = await ToolRunner(_registry(add)).run("add", '{"a": "2"}', call_id="c1")
    assert result.ok and result.call_id == "c1" and result.name == "add"
    output = json.loads(result.output)
    assert output["sum"] == 3  # "2" was validated into an int, b took its default
    assert output["thread"] != threading.get_ident()


async def test_async_tools_and_long_outputs() -> None:
    runner = ToolRunner(_registry(later, huge))
    assert (await runner.run("later", '{"word": "hi"}')).output == "HI"
    cut = await runner.run("huge", "")
    assert cut.ok and len(cut.output) < MAX_OUTPUT_CHARS + 100 and cut.output.endswith("characters]")


@pytest.mark.parametrize(("name", "arguments", "words"), [
    ("add", "{not json", "not valid JSON"),
    ("add", "[1, 2]", "must be a JSON object"),
    ("add", '{"b": 2}', "Invalid arguments for add: a: Field required"),
    ("add", '{"a": 1, "c": 3}', "c: Extra inputs are not permitted"),
    ("add", '{"a": "many"}', "a: Input should be a valid integer"),
    ("explode", '{"reason": "no such city"}', "The tool explode failed: ValueError: no such city"),
    ("nothing", "{}", "There is no tool named nothing."),
])
async def test_every_failure_is_an_output_the_model_can_read(name: str, arguments: str, words: str) -> None:
    result = await ToolRunner(_registry(add, explode)).run(name, arguments, call_id="c")
    assert not result.ok and words in (result.error or "")
    assert words in json.loads(result.output)["error"]


async def test_a_tool_that_hangs_times_out_and_the_loop_goes_on() -> None:
    release = threading.Event()

    def stuck() -> str:
        """Never returns until released."""
        release.wait(30)
        return "late"

    runner = ToolRunner(_registry(stuck, add), timeout_s=0.2)
    try:
        result = await runner.run("stuck", "{}", call_id="c9")
        assert not result.ok and "did not finish within 0.2 s" in (result.error or "")
        assert (await runner.run("add", '{"a": 1}')).ok  # the session goes on
    finally:
        release.set()


def test_refusals_are_outputs_too() -> None:
    runner = ToolRunner(ToolRegistry())
    declined = runner.refuse("wipe", "{}", call_id="c", reason="declined")
    assert json.loads(declined.output) == {"error": "The user declined to run the tool wipe."}
    assert "disabled" in (runner.refuse("wipe", "{}", call_id="c", reason="never").error or "")


def test_the_example_tools_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = ToolRunner(load_tools(["examples/tools/clock_tools.py"], base_dir=ROOT,
                                   entry_point_group=None).registry)
    now = asyncio.run(runner.run("current_time", '{"timezone": "Asia/Tokyo"}'))
    assert now.ok and json.loads(now.output)["timezone"] == "Asia/Tokyo"
    wrong = asyncio.run(runner.run("current_time", '{"timezone": "Mars/Olympus"}'))
    assert not wrong.ok and "Mars/Olympus" in (wrong.error or "")
    saved = asyncio.run(runner.run("save_note", '{"text": "buy milk"}'))
    assert saved.ok and "buy milk" in (tmp_path / "voicelive-notes.txt").read_text()


# ------------------------------------------------------------------------------------- answering order
def _result(call_id: str) -> ToolResult:
    return ToolResult(call_id, "f", "{}", '"ok"')


def _kinds(events: list[ce.ClientEvent]) -> list[str]:
    return [e.type for e in events]


def test_outputs_go_at_once_and_one_follow_up_after_the_response_and_all_its_calls() -> None:
    calls = ToolCalls()
    calls.response_started("r1")
    calls.call_started("r1", "c1")
    calls.call_started("r1", "c2")
    first = calls.call_finished(_result("c1"))
    assert _kinds(first) == ["conversation.item.create"]
    assert first[0].model_dump()["item"] == ce.function_call_output_item("c1", '"ok"')
    assert calls.response_done("r1", "completed") == []  # c2 still running
    assert calls.pending == 1
    assert _kinds(calls.call_finished(_result("c2"))) == ["conversation.item.create", "response.create"]
    assert calls.pending == 0


def test_a_fast_result_waits_for_response_done() -> None:
    calls = ToolCalls()
    calls.response_started("r1")
    calls.call_started("r1", "c1")
    assert _kinds(calls.call_finished(_result("c1"))) == ["conversation.item.create"]
    assert _kinds(calls.response_done("r1", "completed")) == ["response.create"]


def test_the_follow_up_waits_while_another_response_is_active() -> None:
    calls = ToolCalls()
    calls.response_started("r1")
    calls.call_started("r1", "c1")
    calls.response_done("r1", "completed")
    calls.response_started("r2")  # e.g. an interim response, or the user spoke
    assert _kinds(calls.call_finished(_result("c1"))) == ["conversation.item.create"]
    assert _kinds(calls.response_done("r2", "completed")) == ["response.create"]


def test_an_interrupted_response_gets_its_outputs_but_no_follow_up() -> None:
    calls = ToolCalls()
    calls.response_started("r1")
    calls.call_started("r1", "c1")
    calls.response_done("r1", "cancelled")
    assert _kinds(calls.call_finished(_result("c1"))) == ["conversation.item.create"]


def test_mcp_calls_ask_for_the_follow_up_too_and_reset_forgets() -> None:
    calls = ToolCalls()
    calls.response_started("r1")
    calls.mcp_call_started("r1", "mcp_item")
    assert calls.mcp_call_finished("mcp_item") == []
    assert _kinds(calls.response_done("r1", "completed")) == ["response.create"]
    calls.response_started("r2")
    calls.call_started("r2", "c1")
    calls.reset()
    assert calls.pending == 0 and calls.call_finished(_result("c1"))[1:] == []
