"""The session's side of tools: it carries out what `ToolDispatch` decides, on the session's own loop.

`ToolDispatch` (in `app.tools`) is the whole logic, without I/O: events in, actions out. This is the I/O:
`Send` goes to the outbox in order, `Run` becomes a task that runs the user's function off the loop (the
runner uses a thread per call and never raises) and feeds its result back, `Show`/`Ask`/`Withdraw`/`Say`
become notices for the UI, and a call that reaches its final state is recorded in the conversation (the
transcript gets one entry per call). Nothing here waits for the user: an approval comes back later
through `answer`.

A result that arrives after its connection was lost is dropped: the service's call belonged to that
connection, and a `function_call_output` for it would be refused on the next one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from app.conversation import Conversation, ToolCallRecord
from app.logs import WarningLimiter
from app.protocol import events as ev
from app.tools.call_state import ToolCallState
from app.tools.dispatch import FINAL, Action, Ask, Run, Say, Send, Show, ToolDispatch, Withdraw
from app.voicelive import notices as nt
from app.voicelive.outbox import Outbox

log = logging.getLogger(__name__)


class ToolBridge:
    def __init__(self, dispatch: ToolDispatch, outbox: Outbox, emit: Callable[[nt.Notice], None],
                 conversation: Conversation) -> None:
        self.dispatch = dispatch
        self.outbox = outbox
        self.emit = emit
        self.conversation = conversation
        self._generation = 0  # one per connection: a run started on an older one has nobody to answer
        self._tasks: set[asyncio.Task[None]] = set()
        self._warn = WarningLimiter(log)

    # ------------------------------------------------------------------ what the session forwards
    def handle(self, event: ev.ServerEvent) -> None:
        """Every parsed server event, after the session's own handler."""
        try:
            self._do(self.dispatch.handle(event))
        except Exception:  # one bad event must never end the session
            if self._warn.warn("handling a tool event failed", event.type):
                log.exception("handling the tool event %s failed", event.type)

    def answer(self, request_id: str, approve: bool) -> None:
        """The user's answer to a `ToolApprovalRequested` (ignored once withdrawn)."""
        log.info("approval %s: %s", request_id, "approved" if approve else "declined")
        self._do(self.dispatch.answer(request_id, approve))

    def connection_lost(self) -> None:
        self._generation += 1
        self._do(self.dispatch.reset())

    @property
    def running(self) -> int:
        """Function calls running now."""
        return len(self._tasks)

    async def close(self) -> None:
        """Stop waiting for the calls in flight (their threads are daemons and are abandoned)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------ carrying out the actions
    def _do(self, actions: list[Action]) -> None:
        for action in actions:
            match action:
                case Send(event=event):
                    self.outbox.put(event.to_json())
                case Run(call_id=call_id, name=name, arguments=arguments):
                    task = asyncio.get_running_loop().create_task(
                        self._run(self._generation, call_id, name, arguments), name=f"tool-{name}")
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                case Show(state=state):
                    self._record(state)
                    self.emit(nt.ToolCallChanged(state))
                case Ask(request=request):
                    self.emit(nt.ToolApprovalRequested(request))
                case Withdraw(request_id=request_id):
                    self.emit(nt.ToolApprovalWithdrawn(request_id))
                case Say(message=message, level=level):
                    self.emit(nt.Info(message, level))

    async def _run(self, generation: int, call_id: str, name: str, arguments: str) -> None:
        result = await self.dispatch.runner.run(name, arguments, call_id=call_id)
        if generation != self._generation:
            log.info("tool %s finished after its connection was lost; its result is dropped", name)
            return
        self._do(self.dispatch.finished(result))

    def _record(self, state: ToolCallState) -> None:
        """A call in its final state, with its result or error, goes into the conversation (once: the
        conversation keeps the first record for an item)."""
        if state.state not in FINAL or (state.result is None and state.error is None):
            return  # an MCP call's result comes with its item, just after `response.mcp_call.completed`
        record = ToolCallRecord(state.call_id, state.name, state.arguments, state.state, state.result, state.error,
                                state.duration_ms, state.kind, state.server_label, state.response_id)
        self.conversation.add_tool_call(state.item_id or state.call_id, record)
