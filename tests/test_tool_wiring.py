"""The pieces between the tools and the rest: start-up composition, the session's bridge, the transcript and
exports, and what the settings screen saves back."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

from app.config import load_settings, read_toml
from app.conversation import Conversation, ToolCallRecord
from app.export import to_jsonl, to_markdown
from app.protocol import changes
from app.protocol import events as ev
from app.protocol.session import SessionConfig
from app.protocol.tools import LlmInterimResponse, StaticInterimResponse
from app.screens.settings_form import build, values_from
from app.settings_saver import SettingsSaver
from app.startup import session_setup
from app.tools.dispatch import ToolDispatch
from app.tools.registry import ToolRegistry, describe
from app.tools.runner import ToolRunner
from app.voicelive import notices as nt
from app.voicelive.outbox import Outbox
from app.voicelive.tool_bridge import ToolBridge
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[1]
RELEASE = threading.Event()


def slow_lookup(order_id: str) -> str:
    """Waits until the test lets it finish."""
    RELEASE.wait(10)
    return f"{order_id}: shipped"


# ------------------------------------------------------------------------------------------------ start-up
def test_start_up_loads_the_tools_and_says_what_went_wrong(tmp_path: Path) -> None:
    broken = tmp_path / "broken_tools.py"
    broken.write_text("raise ImportError('no such thing')\n")
    settings = load_settings({
        ("tools", "modules"): [str(ROOT / "examples/tools/clock_tools.py"), str(broken)],
        ("tools", "entry_points"): False, ("connection", "api_version"): "2025-10-01",
        ("mcp",): [{"label": "docs", "url": "https://learn.example/mcp", "headers": {"X-Key": "s3cret"}}],
    }, environ={})
    setup = session_setup(settings)
    assert sorted(setup.tools.registry.tools) == ["current_time", "save_note"]
    names = [getattr(t, "name", None) or getattr(t, "server_label", None) for t in setup.config.tools or []]
    assert names == ["current_time", "save_note", "docs"]
    assert len(setup.warnings) == 2
    assert "could not be imported (ImportError: no such thing)" in setup.warnings[0]
    assert setup.warnings[1].startswith("MCP servers need api-version")
    assert settings.session.tools is None  # the settings are not touched


# ------------------------------------------------------------------------------------------------ the bridge
def _bridge(conversation: Conversation | None = None) -> tuple[ToolBridge, Outbox, list[nt.Notice]]:
    registry = ToolRegistry([describe(slow_lookup)], {"slow_lookup": "auto"})
    notices: list[nt.Notice] = []
    outbox = Outbox()
    bridge = ToolBridge(ToolDispatch(registry, ToolRunner(registry, timeout_s=5)), outbox, notices.append,
                        conversation or Conversation())
    return bridge, outbox, notices


def _feed(bridge: ToolBridge, kind: str, **fields: Any) -> None:
    bridge.handle(ev.parse_server_event({"type": kind, **fields}))


def _call(bridge: ToolBridge) -> None:
    _feed(bridge, "response.created", response={"id": "r1"})
    _feed(bridge, "response.output_item.added", response_id="r1", item={
        "id": "item_1", "type": "function_call", "name": "slow_lookup", "call_id": "call_1", "arguments": ""})
    _feed(bridge, "response.function_call_arguments.done", response_id="r1", item_id="item_1", call_id="call_1",
          name="slow_lookup", arguments='{"order_id": "A-1"}')


async def test_a_result_is_sent_then_recorded_once() -> None:
    conversation = Conversation()
    bridge, outbox, notices = _bridge(conversation)
    RELEASE.set()
    _call(bridge)
    _feed(bridge, "response.done", response={"id": "r1", "status": "completed", "output": []})
    await wait_for(lambda: len(outbox.queued_control) == 2)
    output, follow_up = (json.loads(frame) for frame in outbox.queued_control)
    assert output["item"] == {"type": "function_call_output", "call_id": "call_1", "output": "A-1: shipped"}
    assert follow_up["type"] == "response.create"
    states = [n.state.state for n in notices if isinstance(n, nt.ToolCallChanged)]
    assert states == ["streaming", "running", "done"]
    entry = conversation.get("item_1")
    assert entry is not None and entry.tool_call is not None and entry.tool_call.result == "A-1: shipped"
    assert conversation.replay_items() == []  # a tool call is not replayed as text


async def test_a_result_after_the_connection_was_lost_is_dropped() -> None:
    bridge, outbox, notices = _bridge()
    RELEASE.clear()
    _call(bridge)
    assert bridge.running == 1
    bridge.connection_lost()
    lost = [n.state for n in notices if isinstance(n, nt.ToolCallChanged)][-1]
    assert lost.state == "failed" and "connection was lost" in (lost.error or "")
    RELEASE.set()
    await wait_for(lambda: bridge.running == 0)
    await asyncio.sleep(0.05)
    assert outbox.queued_control == []  # the call belonged to the old connection: nothing is sent for it


# ---------------------------------------------------------------------------------- transcript and exports
def _record(**overrides: Any) -> ToolCallRecord:
    fields: dict[str, Any] = {"call_id": "call_1", "name": "lookup_order", "arguments": '{"order_id": "A-17"}',
                              "state": "done", "result": '{"status": "sh```ipped"}', "duration_ms": 12,
                              "response_id": "r1"}
    return ToolCallRecord(**{**fields, **overrides})


def test_a_tool_call_is_one_transcript_line_and_a_markdown_block(tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    conversation = Conversation(transcript)
    conversation.add("u1", "user", "where is my order?", typed=True)
    conversation.finish("u1")
    conversation.add_tool_call("item_1", _record())
    conversation.add_tool_call("item_1", _record(state="failed"))  # once per call
    conversation.add_tool_call("item_2", _record(call_id="c2", name="explode", state="failed", result=None,
                                                 error="The tool explode failed: RuntimeError: boom"))
    assert conversation.close(timeout=5)  # the writer thread has put every finished entry on disk
    lines = [json.loads(line) for line in transcript.read_text().splitlines()]
    assert [(r["role"], r["status"]) for r in lines] == [("user", "completed"), ("assistant", "completed"),
                                                         ("assistant", "failed")]
    assert lines[1]["tool_call"] == {**_record().__dict__}
    assert lines[0]["tool_call"] is None
    assert to_jsonl(conversation).splitlines()[1] == transcript.read_text().splitlines()[1]

    markdown = to_markdown(conversation)
    assert "· `lookup_order` ✓ · 12 ms" in markdown and "· `explode` ✗ failed" in markdown
    assert '````\n{"status": "sh```ipped"}\n````' in markdown  # a fence the result cannot close
    assert "Error:\n\n```\nThe tool explode failed: RuntimeError: boom\n```" in markdown


# --------------------------------------------------------------------------------- the settings screen side
def test_saving_the_live_session_keeps_tools_and_header_secrets_out_of_session(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"""[tools]
modules = ["{ROOT / 'examples/tools/clock_tools.py'}"]
entry_points = false

[[mcp]]
label = "docs"
url = "https://learn.example/mcp"
headers = {{ X-Key = "s3cret" }}
""")
    settings = load_settings(config_path=path, environ={})
    live = session_setup(settings).config
    live = live.model_copy(update={"interim_response": StaticInterimResponse(texts=["Hold on."])})
    saved = asyncio.run(SettingsSaver(settings).save(live, settings.audio))
    assert saved == path
    data = read_toml(saved)
    assert "tools" not in data.get("session", {}) and "interim_response" not in data.get("session", {})
    assert data["mcp"][0]["headers"] == {"X-Key": "s3cret"}  # where the user wrote it, as written
    assert data["interim"]["enabled"] is True and data["interim"]["kind"] == "static"
    assert data["interim"]["texts"] == ["Hold on."]
    again = session_setup(load_settings(config_path=path, environ={})).config  # and it starts again as it was
    assert [getattr(t, "name", None) or getattr(t, "server_label", None) for t in again.tools or []] == [
        "current_time", "save_note", "docs"]


def test_the_form_switches_interim_responses_and_the_change_applies() -> None:
    settings = load_settings(environ={})
    base = SessionConfig(interim_response=StaticInterimResponse(texts=["Hold on."]))
    values = values_from(base, settings.audio)
    assert values["interim"] == "static"
    same, _ = build(values, base, settings.audio)
    assert same.interim_response == base.interim_response  # unchanged kind: the texts are kept
    llm, _ = build({**values, "interim": "llm"}, base, settings.audio)
    assert isinstance(llm.interim_response, LlmInterimResponse)
    applied = changes.apply(base, changes.diff(base, llm))  # another kind: no static field lingers
    assert applied.interim_response == llm.interim_response
    off, _ = build({**values, "interim": "off"}, base, settings.audio)
    assert changes.apply(base, changes.diff(base, off)).interim_response is None
