"""Everything the session does about tools, as a state machine without I/O.

The session feeds it every parsed server event (`handle`), the user's approval answers (`answer`) and
the results of the calls it ran (`finished`); each returns actions for the session to carry out, in
order:

* `Send(event)` — send this client event (a `function_call_output`, an `mcp_approval_response`, the
  follow-up `response.create`);
* `Run(call_id, name, arguments)` — run this function with `ToolRunner.run` in a task, then pass the
  result to `finished`;
* `Show(state)` — tell the UI a tool call is new or changed (a `ToolCallState`; the newest replaces the
  older one with the same `call_id`);
* `Ask(request)` — ask the user (an `ApprovalRequest`); the answer comes back through `answer`, later,
  while the session goes on;
* `Withdraw(request_id)` — a question that no longer needs an answer (the connection was lost);
* `Say(message, level)` — one sentence for the log (MCP tool lists, failures).

Nothing here waits: a call that needs approval simply stays pending until `answer` is called.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from app.protocol import client_events as ce
from app.protocol import events as ev
from app.protocol import tool_events as te
from app.tools.call_state import ApprovalRequest, ToolCallState
from app.tools.calls import ToolCalls
from app.tools.registry import ToolRegistry
from app.tools.runner import ToolResult, ToolRunner


@dataclass(frozen=True)
class Send:
    event: ce.ClientEvent


@dataclass(frozen=True)
class Run:
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Show:
    state: ToolCallState


@dataclass(frozen=True)
class Ask:
    request: ApprovalRequest


@dataclass(frozen=True)
class Withdraw:
    request_id: str


@dataclass(frozen=True)
class Say:
    message: str
    level: Literal["information", "warning", "error"] = "information"


Action = Send | Run | Show | Ask | Withdraw | Say
FINAL = ("done", "failed", "declined")
LOST = "The connection was lost before this call finished."
ENDED_KEPT = 256  # finished call ids remembered (a late item for one is not a new call)


class ToolDispatch:
    def __init__(self, registry: ToolRegistry, runner: ToolRunner) -> None:
        self.registry = registry
        self.runner = runner
        self.calls = ToolCalls()
        self.states: dict[str, ToolCallState] = {}  # by call_id (functions) or item id (MCP)
        self._questions: dict[str, ApprovalRequest] = {}
        self._started: dict[str, float] = {}  # MCP item id -> when its call began (for the duration)
        self._alias: dict[str, str] = {}  # an approved MCP call's item id -> its approval request's id
        self._response_of: dict[str, str] = {}  # MCP call item id -> the response that carries it
        # Function calls that reached their final state. The service announces a call's item again when it is
        # done (`response.output_item.done`), and a refused or quick call finishes before that: without this,
        # the late item made it a new call, and its block went back from ✗ to "…" for good.
        self._ended: dict[str, None] = {}

    # ------------------------------------------------------------------ what arrives
    def handle(self, event: ev.ServerEvent) -> list[Action]:
        """The actions one server event calls for (most events call for none)."""
        if isinstance(event, ev.ResponseCreated):
            rid = event.response.get("id")
            if isinstance(rid, str):
                self.calls.response_started(rid)
            return []
        if isinstance(event, ev.ResponseDone):
            return [Send(e) for e in self.calls.response_done(event.response_id, event.status)]
        if isinstance(event, (ev.OutputItemAdded, ev.OutputItemDone, ev.ItemCreated)):
            return self._item(event)
        if isinstance(event, te.FunctionCallArgumentsDone):
            return self._function_call(event)
        if isinstance(event, te.McpCallArgumentsDone):
            return self._show(event.item_id, arguments=event.arguments or "")
        if isinstance(event, te.McpCallInProgress):
            state = self.states.get(self._key(event.item_id))
            rid = self._response_of.pop(event.item_id, None) or (state.response_id if state else None)
            self.calls.mcp_call_started(rid, event.item_id)
            self._started[event.item_id] = time.monotonic()
            return self._show(event.item_id, state="running")
        if isinstance(event, (te.McpCallCompleted, te.McpCallFailed)):
            failed = isinstance(event, te.McpCallFailed)
            started = self._started.pop(event.item_id, None)
            duration = int((time.monotonic() - started) * 1000) if started is not None else None
            actions = self._show(event.item_id, state="failed" if failed else "done", duration_ms=duration)
            return actions + [Send(e) for e in self.calls.mcp_call_finished(event.item_id)]
        if isinstance(event, te.McpListToolsFailed):
            return [Say("An MCP server could not be reached or listed its tools; its tools are unavailable.",
                        "warning")]
        return []

    def _item(self, event: ev.OutputItemAdded | ev.OutputItemDone | ev.ItemCreated) -> list[Action]:
        try:
            item = te.parse_tool_item(event.item)
        except te.ItemError as exc:
            return [Say(f"The service sent a {exc}; it is ignored.", "warning")]
        response_id = event.response_id if isinstance(event, (ev.OutputItemAdded, ev.OutputItemDone)) else None
        if isinstance(item, te.FunctionCallItem) and not (item.call_id in self.states or item.call_id in self._ended):
            self.states[item.call_id] = ToolCallState(item.call_id, item.name, item.arguments, item_id=item.id,
                                                      response_id=response_id)
            return [Show(self.states[item.call_id])]
        if isinstance(item, te.McpCallItem) and item.id:
            if response_id is not None and isinstance(event, ev.OutputItemAdded):
                self._response_of[item.id] = response_id
            if item.approval_request_id in self.states and item.id not in self._alias:
                self._alias[item.id] = item.approval_request_id  # the approved call: one block, not two
            if self._key(item.id) not in self.states:
                self.states[item.id] = ToolCallState(item.id, item.name, item.arguments, kind="mcp",
                                                     server_label=item.server_label, item_id=item.id,
                                                     response_id=response_id)
                return [Show(self.states[item.id])]
            if isinstance(event, ev.OutputItemDone) and (item.output is not None or item.error is not None):
                error = None if item.error is None else str(item.error)
                shown = self._show(item.id, result=item.output, error=error, arguments=item.arguments)
                self.states.pop(self._key(item.id), None)
                self._alias.pop(item.id, None)
                return shown
            return []
        if isinstance(item, te.McpApprovalRequestItem) and item.id and item.id not in self._questions:
            request = ApprovalRequest(item.id, item.name, item.arguments or "", kind="mcp",
                                      server_label=item.server_label)
            self._questions[item.id] = request
            self.states[item.id] = ToolCallState(item.id, item.name, item.arguments or "", "awaiting_approval",
                                                 kind="mcp", server_label=item.server_label, item_id=item.id,
                                                 response_id=response_id)
            return [Show(self.states[item.id]), Ask(request)]
        if isinstance(item, te.McpListToolsItem) and isinstance(event, ev.ItemCreated):
            names = ", ".join(t.name for t in item.tools) or "none"
            return [Say(f"MCP server {item.server_label}: {len(item.tools)} tools ({names}).")]
        return []

    def _function_call(self, event: te.FunctionCallArgumentsDone) -> list[Action]:
        call_id, name, arguments = event.call_id, event.name, event.arguments
        base = self.states.get(call_id) or ToolCallState(call_id, name, item_id=event.item_id,
                                                        response_id=event.response_id)
        self.states[call_id] = base.update(name=name or base.name, arguments=arguments)
        self.calls.call_started(event.response_id, call_id)
        policy = self.registry.policy(name) if self.registry.get(name) is not None else "unknown"
        if policy == "auto":
            return [*self._show(call_id, state="running"), Run(call_id, name, arguments)]
        if policy == "ask":
            request = ApprovalRequest(call_id, name, arguments)
            self._questions[call_id] = request
            return [*self._show(call_id, state="awaiting_approval"), Ask(request)]
        reason: Literal["never", "unknown"] = "never" if policy == "never" else "unknown"
        return self.finished(self.runner.refuse(name, arguments, call_id=call_id, reason=reason))

    # ------------------------------------------------------------------ what the session reports back
    def answer(self, request_id: str, approve: bool) -> list[Action]:
        """The user's answer to an `Ask`; an unknown or withdrawn request is ignored."""
        request = self._questions.pop(request_id, None)
        if request is None:
            return []
        if request.kind == "mcp":
            send = Send(ce.ItemCreate(item=ce.mcp_approval_response_item(request_id, approve=approve)))
            if approve:
                return [send, *self._show(request_id, state="running")]
            declined = self._show(request_id, state="declined", error="You declined this call.")
            self.states.pop(request_id, None)  # final: the service will not call it
            return [send, *declined, *(Send(e) for e in self.calls.mcp_declined())]
        if approve:
            return [*self._show(request_id, state="running"), Run(request_id, request.name, request.arguments)]
        return self.finished(self.runner.refuse(request.name, request.arguments, call_id=request_id,
                                                reason="declined"))

    def finished(self, result: ToolResult) -> list[Action]:
        """A function call's result (run, refused or declined): show it, answer the service."""
        state = "done" if result.ok else "declined" if result.refusal == "declined" else "failed"
        ran = result.refusal is None
        shown = self._show(result.call_id, state=state, result=result.output if result.ok else None,
                           error=result.error, duration_ms=result.duration_ms if ran else None)
        self.states.pop(result.call_id, None)
        self._ended[result.call_id] = None
        while len(self._ended) > ENDED_KEPT:
            del self._ended[next(iter(self._ended))]
        return shown + [Send(e) for e in self.calls.call_finished(result)]

    def reset(self) -> list[Action]:
        """The connection was lost: pending questions are void, pending calls end as failed and are forgotten
        (a result that comes in later has nobody to go to)."""
        withdrawn: list[Action] = [Withdraw(request_id) for request_id in self._questions]
        withdrawn += [Show(state.update(state="failed", error=LOST)) for state in self.states.values()
                      if state.state not in FINAL]
        self._questions.clear()
        self._started.clear()
        self._alias.clear()
        self._response_of.clear()
        self.states.clear()
        self._ended.clear()
        self.calls.reset()
        return withdrawn

    # ------------------------------------------------------------------ internals
    def _key(self, key: str) -> str:
        return self._alias.get(key, key)

    def _show(self, key: str, **changes: object) -> list[Action]:
        key = self._key(key)
        state = self.states.get(key)
        if state is None:
            return []
        self.states[key] = state.update(**changes)
        return [Show(self.states[key])]
