"""Tools end to end: the real App under Pilot, the emulator over real websockets, a real MCP server.

The emulator plays the model: when a typed message names a declared tool, it calls it. What the app did
is checked against what the emulator received (the `function_call_output`, the approval response), what
the MCP server was asked, and which test functions really ran (`tools_for_tests.calls`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.config import load_settings
from app.emulator.server import EmulatorOptions, EmulatorServer
from app.screens.approval import ApprovalScreen
from app.services import Emulator, Services
from app.startup import LocalToken, local_emulator
from app.tui import VoiceLiveApp
from app.widgets.tool_call import ToolCallBlock
from app.widgets.turn import AssistantTurn, NoticeLine
from tests.helpers import wait_for
from tests.tools_for_tests import calls
from tests.ui_harness import connected

TOOLS = Path(__file__).with_name("tools_for_tests.py")


def tool_app(tmp_path: Path, flags: dict[tuple[str, ...], Any] | None = None, *,
             emulator: Emulator | None = None, credential: LocalToken | None = None) -> VoiceLiveApp:
    base: dict[tuple[str, ...], Any] = {("connection", "local"): True, ("tools", "modules"): [str(TOOLS)],
                                        ("tools", "entry_points"): False}
    settings = load_settings({**base, **(flags or {})}, environ={})
    services = Services(emulator=emulator or EmulatorServer(options=EmulatorOptions(speed=8.0)),
                        audio_error="Audio is off in this test: text mode.", credential=credential,
                        transcript_dir=str(tmp_path / "transcripts"))
    return VoiceLiveApp(settings, services)


def server_of(app: VoiceLiveApp) -> EmulatorServer:
    emulator = app.services.emulator
    assert isinstance(emulator, EmulatorServer)
    return emulator


def received(app: VoiceLiveApp, kind: str) -> list[dict[str, Any]]:
    """Items of `conversation.item.create` events of this kind that the emulator received."""
    return [e["item"] for e in server_of(app).sessions[-1].received
            if e["type"] == "conversation.item.create" and e["item"].get("type") == kind]


def response_creates(app: VoiceLiveApp) -> int:
    return sum(e["type"] == "response.create" for e in server_of(app).sessions[-1].received)


def call_ids(app: VoiceLiveApp) -> list[str]:
    """The function calls the emulator made, in order."""
    return [e["call_id"] for _, e in server_of(app).sessions[-1].sent
            if e["type"] == "response.function_call_arguments.done"]


def blocks(app: VoiceLiveApp) -> list[ToolCallBlock]:
    return list(app.main.query(ToolCallBlock))


def replies(app: VoiceLiveApp) -> list[str]:
    return [turn.text for turn in app.main.query(AssistantTurn) if turn.text]


def notices(app: VoiceLiveApp) -> list[str]:
    return [line.base_text for line in app.main.query(NoticeLine)]


def transcript(app: VoiceLiveApp) -> list[dict[str, Any]]:
    return [json.loads(line) for line in app.transcript_path.read_text().splitlines()]


async def ask(app: VoiceLiveApp, text: str) -> ApprovalScreen:
    app.control.send_text(text)
    await wait_for(lambda: isinstance(app.screen, ApprovalScreen), timeout=15)
    assert isinstance(app.screen, ApprovalScreen)
    return app.screen


# ---------------------------------------------------------------------------------------- function tools
async def test_an_approved_call_runs_and_the_reply_quotes_its_output(tmp_path: Path) -> None:
    app = tool_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(app)
        declared = server_of(app).sessions[-1].session["tools"]
        assert sorted(t["name"] for t in declared) == ["explode", "lookup_order", "sleepy"]
        prompt = await ask(app, "where is my order? lookup order order_id=A-17")
        assert prompt.request.name == "lookup_order"
        assert json.loads(prompt.request.arguments) == {"order_id": "A-17"}
        await wait_for(lambda: blocks(app) and blocks(app)[0].call.state == "awaiting_approval")
        assert calls() == [] and received(app, "function_call_output") == []  # nothing runs before the answer

        await pilot.press("y")
        await wait_for(lambda: received(app, "function_call_output"), timeout=10)
        output = received(app, "function_call_output")[0]
        assert output["call_id"] == call_ids(app)[0]
        assert json.loads(output["output"]) == {"order_id": "A-17", "status": "shipped"}
        assert calls() == [{"name": "lookup_order", "arguments": {"order_id": "A-17"}}]
        await wait_for(lambda: any(r.startswith("lookup_order returned:") for r in replies(app)), timeout=15)
        assert response_creates(app) == 2  # the typed turn's, and the follow-up once the output was in

        block = blocks(app)[0]
        assert block.call.state == "done" and block.call.duration_ms is not None
        turns = list(app.main.query(AssistantTurn))
        assert len(turns) == 1 and block.parent is turns[0]  # the call and the reply share one turn
        assert not isinstance(app.screen, ApprovalScreen)
        await pilot.press("q")
    records = [r for r in transcript(app) if r.get("tool_call")]
    assert len(records) == 1
    call = records[0]["tool_call"]
    assert (call["name"], call["state"], json.loads(call["arguments"])) == ("lookup_order", "done",
                                                                           {"order_id": "A-17"})
    assert json.loads(call["result"])["status"] == "shipped" and call["duration_ms"] is not None


async def test_a_declined_call_is_not_run_and_the_model_is_told(tmp_path: Path) -> None:
    app = tool_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(app)
        await ask(app, "lookup order order_id=B-2")
        await pilot.press("n")
        await wait_for(lambda: received(app, "function_call_output"), timeout=10)
        output = json.loads(received(app, "function_call_output")[0]["output"])
        assert output == {"error": "The user declined to run the tool lookup_order."}
        await wait_for(lambda: any("declined" in r for r in replies(app)), timeout=15)
        assert calls() == []
        assert blocks(app)[0].call.state == "declined"


async def test_a_tool_that_raises_or_times_out_is_reported_and_the_session_goes_on(tmp_path: Path) -> None:
    app = tool_app(tmp_path, {("tools", "policies"): {"explode": "auto", "sleepy": "auto"},
                              ("tools", "timeout_s"): 0.5})
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(app)
        app.control.send_text("please explode reason=loudly")
        await wait_for(lambda: received(app, "function_call_output"), timeout=10)
        failed = json.loads(received(app, "function_call_output")[0]["output"])
        assert failed == {"error": "The tool explode failed: RuntimeError: the tool failed loudly"}
        await wait_for(lambda: any(r.startswith("explode returned:") for r in replies(app)), timeout=15)

        app.control.send_text("now be sleepy seconds=3")
        await wait_for(lambda: len(received(app, "function_call_output")) == 2, timeout=10)
        timed_out = json.loads(received(app, "function_call_output")[1]["output"])
        assert timed_out == {"error": "The tool sleepy did not finish within 0.5 s."}
        await wait_for(lambda: any(r.startswith("sleepy returned:") for r in replies(app)), timeout=15)
        assert [c["name"] for c in calls()] == ["explode", "sleepy"]  # both really ran (auto: no prompt)
        assert [(b.call.name, b.call.state) for b in blocks(app)] == [("explode", "failed"), ("sleepy", "failed")]
        assert "did not finish" in (blocks(app)[1].call.error or "")

        app.control.send_text("hello again")
        await wait_for(lambda: any(r.startswith("You typed: hello again") for r in replies(app)), timeout=15)
        assert app.main.status.state == "connected"
        await pilot.press("q")
    states = [r["tool_call"]["state"] for r in transcript(app) if r.get("tool_call")]
    assert states == ["failed", "failed"]


async def test_a_lost_connection_closes_the_prompt_and_ends_the_call(tmp_path: Path) -> None:
    app = tool_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(app)
        await ask(app, "lookup order order_id=C-3")
        first = server_of(app).sessions[-1]
        assert server_of(app).drop_connections() == 1
        await wait_for(lambda: not isinstance(app.screen, ApprovalScreen), timeout=10)  # withdrawn, unanswered
        await wait_for(lambda: blocks(app)[0].call.state == "failed", timeout=10)
        assert "connection was lost" in (blocks(app)[0].call.error or "")
        await wait_for(lambda: server_of(app).sessions[-1] is not first and app.main.status.state == "connected",
                       timeout=20)
        app.control.send_text("hello again")
        await wait_for(lambda: any(r.startswith("You typed: hello again") for r in replies(app)), timeout=15)
        await pilot.press("y")  # a stray answer to the closed prompt changes nothing
        assert received(app, "function_call_output") == [] and calls() == []
        assert not [e for e in first.received if e["type"] == "conversation.item.create"
                    and e["item"]["type"] == "function_call_output"]


# ---------------------------------------------------------------------------------------------- MCP
def _mcp(url: str, **extra: Any) -> dict[tuple[str, ...], Any]:
    return {("mcp",): [{"label": "encyclopaedia", "url": url, **extra}], ("tools", "modules"): []}


async def test_an_mcp_server_is_listed_and_called_without_approval(tmp_path: Path) -> None:
    from tests.mcp_server import mcp_server

    async with mcp_server() as server:
        app = tool_app(tmp_path, _mcp(server.url, require_approval="never"))
        async with app.run_test(size=(100, 30)) as pilot:
            await connected(app)
            await wait_for(lambda: "MCP server encyclopaedia: 2 tools (lookup, broken)." in notices(app), 15)
            app.control.send_text("please lookup topic=tea")
            await wait_for(lambda: any(r.startswith("The MCP tool encyclopaedia.lookup returned: All about tea.")
                                       for r in replies(app)), timeout=20)
            assert server.calls == [("lookup", {"topic": "tea"})]
            block = blocks(app)[0]
            assert (block.call.kind, block.call.server_label, block.call.state) == ("mcp", "encyclopaedia", "done")
            assert block.call.result == "All about tea."
            assert len(list(app.main.query(AssistantTurn))) == 1
            assert not isinstance(app.screen, ApprovalScreen)
            await pilot.press("q")
        records = [r["tool_call"] for r in transcript(app) if r.get("tool_call")]
        assert [(r["name"], r["server_label"], r["result"]) for r in records] == [
            ("lookup", "encyclopaedia", "All about tea.")]


async def test_mcp_approvals_are_answered_from_the_prompt(tmp_path: Path) -> None:
    from tests.mcp_server import mcp_server

    async with mcp_server() as server:
        app = tool_app(tmp_path, _mcp(server.url))  # the service's default: every call asks
        async with app.run_test(size=(100, 30)) as pilot:
            await connected(app)
            await wait_for(lambda: any(n.startswith("MCP server encyclopaedia") for n in notices(app)), 15)
            prompt = await ask(app, "lookup topic=owls")
            assert (prompt.request.kind, prompt.request.server_label, prompt.request.name) == (
                "mcp", "encyclopaedia", "lookup")
            assert server.calls == []
            await pilot.press("y")
            await wait_for(lambda: any("All about owls." in r for r in replies(app)), timeout=20)
            answers = received(app, "mcp_approval_response")
            assert [(a["approval_request_id"], a["approve"]) for a in answers] == [(prompt.request.request_id, True)]
            assert server.calls == [("lookup", {"topic": "owls"})]
            assert [(b.call.name, b.call.state) for b in blocks(app)] == [("lookup", "done")]  # one block, not two

            await ask(app, "lookup topic=bats")
            await pilot.press("n")
            await wait_for(lambda: any("did not approve" in r for r in replies(app)), timeout=20)
            assert [a["approve"] for a in received(app, "mcp_approval_response")] == [True, False]
            assert len(server.calls) == 1
            assert [b.call.state for b in blocks(app)] == ["done", "declined"]


# -------------------------------------------------------------------------------------- agents, interim
async def test_an_agent_over_local_gets_its_parameters_and_a_token_and_is_named(tmp_path: Path) -> None:
    flags: dict[tuple[str, ...], Any] = {
        ("connection", "local"): True, ("agent", "name"): "concierge", ("agent", "project"): "travel",
        ("agent", "version"): "3", ("agent", "conversation_id"): "conv_9"}
    emulator, token = local_emulator(load_settings(flags, environ={}))  # what `--local --agent …` starts
    assert token is not None
    app = tool_app(tmp_path, flags, emulator=emulator, credential=token)
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(app)
        server = emulator.server
        assert server.sessions[-1].agent == {"name": "concierge", "project": "travel", "version": "3",
                                             "conversation_id": "conv_9"}
        handshake = server.handshakes[-1]
        assert "api-key" not in {k.lower() for k in handshake} and handshake.get("Authorization") == "***"
        updates = [e for e in server.sessions[-1].received if e["type"] == "session.update"]
        assert updates and all("instructions" not in u["session"] for u in updates)  # the agent has its own
        await wait_for(lambda: app.main.status.agent == "concierge")
        assert "agent concierge" in str(app.main.status.render())
        app.control.send_text("hello agent")
        await wait_for(lambda: replies(app), timeout=15)
        await pilot.press("q")


async def test_the_local_agent_token_is_the_only_one_the_emulator_takes(tmp_path: Path) -> None:
    flags: dict[tuple[str, ...], Any] = {
        ("connection", "local"): True, ("agent", "name"): "concierge", ("agent", "project"): "travel"}
    emulator, _ = local_emulator(load_settings(flags, environ={}))
    app = tool_app(tmp_path, flags, emulator=emulator, credential=LocalToken("a-token-of-our-own"))
    async with app.run_test(size=(100, 30)):
        await wait_for(lambda: app.return_code == 2 or app.main.status.state == "failed", timeout=15)


async def test_interim_responses_are_sent_when_enabled(tmp_path: Path) -> None:
    app = tool_app(tmp_path, {("interim", "enabled"): True, ("interim", "kind"): "static",
                              ("interim", "texts"): ["One moment."]})
    async with app.run_test(size=(100, 30)):
        await connected(app)
        session = server_of(app).sessions[-1].session
        assert session["interim_response"]["type"] == "static_interim_response"
        assert session["interim_response"]["texts"] == ["One moment."]
