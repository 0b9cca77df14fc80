"""The approval questions, one prompt at a time: the next opens when the last is answered.

The session asks (`ToolApprovalRequested`) and goes on; the answer goes back through `answer`, later. A
question withdrawn meanwhile (its connection was lost) leaves the queue, or closes its open prompt
without an answer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from textual.app import App

from app.screens.approval import ApprovalScreen
from app.tools.call_state import ApprovalRequest


class ApprovalQueue:
    def __init__(self, app: Callable[[], App[object]], answer: Callable[[str, bool], None]) -> None:
        self._app = app
        self._answer = answer
        self._waiting: deque[ApprovalRequest] = deque()
        self._open: ApprovalScreen | None = None

    @property
    def open_request(self) -> ApprovalRequest | None:
        return self._open.request if self._open is not None else None

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def ask(self, request: ApprovalRequest) -> None:
        self._waiting.append(request)
        self._next()

    def withdraw(self, request_id: str) -> None:
        self._waiting = deque(r for r in self._waiting if r.request_id != request_id)
        screen = self._open
        if screen is not None and screen.request.request_id == request_id:
            self._open = None  # its answer, if one still comes, is ignored: the session no longer wants it
            if self._app().screen is screen:  # dismiss() pops the top screen, which may be another one
                screen.dismiss()
            self._next()

    def _next(self) -> None:
        if self._open is not None or not self._waiting:
            return
        request = self._waiting.popleft()
        screen = self._open = ApprovalScreen(request, waiting=len(self._waiting))

        def answered(approve: bool | None) -> None:
            if self._open is not screen:
                return  # withdrawn meanwhile
            self._open = None
            self._answer(request.request_id, bool(approve))
            self._next()

        self._app().push_screen(screen, callback=answered)
