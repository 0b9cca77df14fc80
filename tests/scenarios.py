"""Screens worth looking at, reached deterministically (no network, no clock) for snapshots and docs.

Each scenario drives the real App by posting the same notices the session would post.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

from app.config import load_settings
from app.messages import message_for
from app.protocol.session import TurnDetection, quickstart_turn_detection
from app.protocol.turn_labels import turn_key, turn_label
from app.services import Services
from app.tools.call_state import ApprovalRequest, ToolCallState
from app.tui import VoiceLiveApp
from app.voicelive import notices as nt
from app.voicelive.timeline import TurnTiming, summarize
from app.voicelive.usage import Usage
from app.widgets.tool_call import ToolCallBlock
from app.widgets.turn import AssistantTurn

Scenario = Callable[[Pilot[int]], Awaitable[None]]


def scenario_app(tmp: Path) -> VoiceLiveApp:
    settings = load_settings({("connection", "local"): True}, environ={})
    return VoiceLiveApp(settings, Services(autostart=False, transcript_dir=str(tmp)))


async def _post(pilot: Pilot[int], *notices: nt.Notice) -> None:
    app = pilot.app
    assert isinstance(app, VoiceLiveApp)
    for notice in notices:
        app.main.post_message(message_for(notice))
    await settle(pilot)


async def settle(pilot: Pilot[int]) -> None:
    """Wait until every posted notice is handled and every streamed delta is drawn."""
    for _ in range(200):
        await pilot.pause()
        if all(turn.caught_up for turn in pilot.app.screen.query(AssistantTurn)):
            break
        await asyncio.sleep(0.01)
    await pilot.pause(0.1)


async def _connected(pilot: Pilot[int]) -> None:
    app = pilot.app
    assert isinstance(app, VoiceLiveApp)
    status = app.main.status
    status.clock = False
    status.host, status.local, status.model = "127.0.0.1:8765", True, "gpt-4o"
    for _ in range(200):  # the session's own first report (its thread starts with the App)
        if status.vad:
            break
        await asyncio.sleep(0.01)
    config = app.settings.session
    await _post(pilot, nt.ConnectionChanged("connected"), nt.ConfigChanged(config, config, pending=False))


EXCHANGE = (
    nt.UserTurnAdded("u1"),
    nt.UserTranscribed("u1", "What's the weather like on Mars today?"),
    nt.AssistantTurnStarted("a1", "r1"),
    nt.AssistantTextDelta("a1", "Mars is **cold and dusty**: about -60 °C on average, "),
    nt.AssistantTextDelta("a1", "with thin CO₂ air and the odd planet-wide dust storm."),
    nt.AssistantTurnEnded("a1", "completed", "", first_audio_ms=412, audio_ms=5200),
)


async def idle(pilot: Pilot[int]) -> None:
    await _connected(pilot)
    await _post(pilot, *EXCHANGE)


async def mid_reply(pilot: Pilot[int]) -> None:
    await _connected(pilot)
    await _post(pilot, *EXCHANGE, nt.UserTurnAdded("u2"), nt.SpeechStopped("u2", 5100),
                nt.UserTranscribed("u2", "And how long is a day there"), nt.AssistantTurnStarted("a2", "r2"),
                nt.AssistantTextDelta("a2", "A Martian day, a *sol*, lasts 24 hours and"))


async def interrupted(pilot: Pilot[int]) -> None:
    await mid_reply(pilot)
    await _post(pilot, nt.SpeechStarted("u3", 9000),
                nt.AssistantTurnEnded("a2", "cancelled", "A Martian day, a *sol*, lasts 24 hours and 39 minutes.",
                                      interrupted_at_ms=1840, heard_text="A Martian day, a sol, lasts 24 hours",
                                      first_audio_ms=380, audio_ms=3100),
                nt.UserTurnAdded("u3"))


CLOCK = ToolCallState("call_1", "current_time", '{"timezone": "Asia/Tokyo"}', "done", item_id="fc_1",
                      response_id="r1", duration_ms=3,
                      result='{"timezone": "Asia/Tokyo", "date": "Friday 27 November 2026", "time": "21:07"}')
DOCS = ToolCallState("mcp_1", "microsoft_docs_search", '{"query": "voice live function calling"}', "done",
                     kind="mcp", server_label="docs", item_id="mcp_1", response_id="r1", duration_ms=840,
                     result="Voice Live sends response.function_call_arguments.done; the client answers with a "
                            "function_call_output item and asks for the next response.")
NOTE = ToolCallState("call_2", "save_note", '{"text": "Call Aiko at 21:30", "title": "Tokyo"}',
                     "awaiting_approval", item_id="fc_2", response_id="r3")
TOOL_EXCHANGE = (
    nt.UserTurnAdded("u1"),
    nt.UserTranscribed("u1", "What time is it in Tokyo, and how does Voice Live call functions?"),
    nt.ToolCallChanged(CLOCK.update(state="running", result=None, duration_ms=None)),
    nt.ToolCallChanged(CLOCK),
    nt.ToolCallChanged(DOCS),
    nt.AssistantTurnStarted("a1", "r2"),
    nt.AssistantTextDelta("a1", "It's **21:07** on Friday in Tokyo. Voice Live sends the call's arguments; "),
    nt.AssistantTextDelta("a1", "the app runs the function and sends back its output."),
    nt.AssistantTurnEnded("a1", "completed", "", first_audio_ms=655, audio_ms=6100),
)


async def tool_call(pilot: Pilot[int]) -> None:
    await _connected(pilot)
    await _post(pilot, *TOOL_EXCHANGE)


async def tool_call_expanded(pilot: Pilot[int]) -> None:
    await tool_call(pilot)
    for block in pilot.app.screen.query(ToolCallBlock):
        block.expanded = True
    await settle(pilot)


async def approval(pilot: Pilot[int]) -> None:
    await tool_call(pilot)
    question = ApprovalRequest("call_2", NOTE.name, NOTE.arguments)
    await _post(pilot, nt.UserTurnAdded("u2"), nt.UserTranscribed("u2", "Remind me to call Aiko at half past nine."),
                nt.ToolCallChanged(NOTE), nt.ToolApprovalRequested(question))


async def muted(pilot: Pilot[int]) -> None:
    await idle(pilot)
    await pilot.press("m")
    await pilot.pause()


async def error(pilot: Pilot[int]) -> None:
    await idle(pilot)
    await _post(pilot, nt.ServiceError("Rate limit reached for requests; retrying shortly.", "rate_limit_exceeded"),
                nt.SessionRejected("Input should be less than or equal to 1", "session.turn_detection.threshold"))


async def settings(pilot: Pilot[int]) -> None:
    await _connected(pilot)
    await pilot.press("s")
    await pilot.pause(0.3)


async def settings_invalid(pilot: Pilot[int]) -> None:
    await settings(pilot)
    from textual.widgets import Input

    pilot.app.screen.query_one("#vad-threshold", Input).value = "1.5"
    await pilot.pause(0.3)


async def help_screen(pilot: Pilot[int]) -> None:
    await idle(pilot)
    await pilot.press("question_mark")
    await pilot.pause(0.3)


QUICK = quickstart_turn_detection()
PATIENT = QUICK.model_copy(update={"silence_duration_ms": 500})


def _turn(td: TurnDetection, reply: str | None, eot: int, det: int, stop: int, *, cut: bool = False,
          interrupted: bool = False) -> TurnTiming:
    return TurnTiming(turn_key(td), turn_label(td), None, reply, det, stop, stop + 6, eot, eot - 95, 2300,
                      interrupted, cut)


TURNS = (
    _turn(PATIENT, None, 905, 250, 540), _turn(PATIENT, None, 960, 270, 560),
    _turn(QUICK, None, 655, 310, 230, cut=True), _turn(QUICK, None, 590, 240, 250, interrupted=True),
    _turn(QUICK, "a1", 612, 260, 235),
)
TIMELINE = nt.TimelineChanged(TURNS, (summarize(list(TURNS[:2])), summarize(list(TURNS[2:]))), turn_key(QUICK))


async def timeline(pilot: Pilot[int]) -> None:
    await _connected(pilot)
    usage = Usage(input_tokens=412, output_tokens=1310, input_audio=380, output_audio=1180, output_text=130)
    ended = nt.AssistantTurnEnded("a1", "completed", "", first_audio_ms=412, audio_ms=5200, usage=usage)
    await _post(pilot, *EXCHANGE[:-1], ended, TIMELINE, nt.UsageChanged(usage, 1))
    await pilot.press("d")
    await settle(pilot)


async def presets(pilot: Pilot[int]) -> None:
    await timeline(pilot)
    app = pilot.app
    assert isinstance(app, VoiceLiveApp)
    from app.presets import Preset

    app.main.book.presets = {"quick": Preset(turn_detection=QUICK), "ptt": Preset(turn_detection=None)}
    await pilot.press("p")
    await pilot.pause(0.3)


async def push_to_talk(pilot: Pilot[int]) -> None:
    await _connected(pilot)
    app = pilot.app
    assert isinstance(app, VoiceLiveApp)
    config = app.settings.session.model_copy(update={"turn_detection": None})
    await _post(pilot, *EXCHANGE, nt.ConfigChanged(config, config, pending=False), nt.TalkChanged(True, True))


SCENARIOS: dict[str, Scenario] = {
    "idle": idle, "mid_reply": mid_reply, "interrupted": interrupted, "muted": muted, "error": error,
    "settings": settings, "settings_invalid": settings_invalid, "help": help_screen,
    "tool_call": tool_call, "tool_call_expanded": tool_call_expanded, "approval": approval,
    "timeline": timeline, "presets": presets, "push_to_talk": push_to_talk,
}
