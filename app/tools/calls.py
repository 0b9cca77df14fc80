"""When to answer a tool call and when to ask for the next response: the bookkeeping, without I/O.

The rule the service imposes: every function call of a response gets its `function_call_output`, and only
when the response has ended (`response.done`) and all its calls are answered does the client send one
`response.create` for the model to go on. MCP calls run on the service, but the model speaks about their
result only after a `response.create` too (Microsoft's MCP sample does the same). A `response.create`
sent while another response is active is refused by the service, so a follow-up waits for the active
one to end. A response that did not complete (the user barged in) gets its outputs but no follow-up: the
user's new turn has its own response.

The session forwards events here and sends back whatever client events come out; the UI is not involved
except through approvals, which the session resolves before it reports a result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.protocol import client_events as ce
from app.tools.runner import ToolResult


@dataclass
class _Response:
    calls: set[str] = field(default_factory=set)  # call ids (function) and item ids (MCP) not yet finished
    done: bool = False
    completed: bool = True
    had_tools: bool = False


class ToolCalls:
    def __init__(self) -> None:
        self._responses: dict[str, _Response] = {}
        self._owner: dict[str, str] = {}  # call id / MCP item id -> response id
        self._active: str | None = None
        self._follow_up_due = False

    def reset(self) -> None:
        """The connection was lost: pending calls belong to a conversation turn that is gone."""
        self._responses.clear()
        self._owner.clear()
        self._active = None
        self._follow_up_due = False

    @property
    def pending(self) -> int:
        """Calls started and not yet answered (for the status line: "1 tool running")."""
        return len(self._owner)

    def response_started(self, response_id: str) -> None:
        self._active = response_id

    def call_started(self, response_id: str | None, call_id: str) -> None:
        """A function call's arguments are complete (`response.function_call_arguments.done`)."""
        self._track(response_id, call_id)

    def mcp_call_started(self, response_id: str | None, item_id: str) -> None:
        """The service began an MCP call (`response.mcp_call.in_progress`)."""
        self._track(response_id, item_id)

    def call_finished(self, result: ToolResult) -> list[ce.ClientEvent]:
        """The function call has a result (run, refused or declined): its output, then maybe the follow-up."""
        events: list[ce.ClientEvent] = [ce.ItemCreate(item=ce.function_call_output_item(result.call_id,
                                                                                          result.output))]
        return events + self._finish(result.call_id)

    def mcp_call_finished(self, item_id: str) -> list[ce.ClientEvent]:
        """`response.mcp_call.completed` or `.failed`: nothing to send but, in time, the follow-up."""
        return self._finish(item_id)

    def mcp_declined(self) -> list[ce.ClientEvent]:
        """The user declined an MCP call: the service will not make it, so the model is asked to go on (and
        say so) once no response is active."""
        self._follow_up_due = True
        return self._flush()

    def response_done(self, response_id: str | None, status: str) -> list[ce.ClientEvent]:
        """`response.done`: the follow-up is due once every call of this response is answered."""
        if response_id is not None and self._active == response_id:
            self._active = None
        entry = self._responses.get(response_id or "")
        if entry is not None:
            entry.done, entry.completed = True, status == "completed"
            self._settle(response_id or "", entry)
        return self._flush()

    # ------------------------------------------------------------------ internals
    def _track(self, response_id: str | None, key: str) -> None:
        rid = response_id or ""
        entry = self._responses.setdefault(rid, _Response())
        entry.calls.add(key)
        entry.had_tools = True
        self._owner[key] = rid

    def _finish(self, key: str) -> list[ce.ClientEvent]:
        rid = self._owner.pop(key, None)
        if rid is None:
            return []
        entry = self._responses[rid]
        entry.calls.discard(key)
        self._settle(rid, entry)
        return self._flush()

    def _settle(self, rid: str, entry: _Response) -> None:
        if entry.done and not entry.calls:
            del self._responses[rid]
            if entry.had_tools and entry.completed:
                self._follow_up_due = True

    def _flush(self) -> list[ce.ClientEvent]:
        if self._follow_up_due and self._active is None:
            self._follow_up_due = False
            return [ce.ResponseCreate()]
        return []
