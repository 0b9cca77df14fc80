"""The one-line prompt for typing a message (`t`); Enter sends, Escape leaves."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class MessagePrompt(Input):
    BINDINGS = [Binding("escape", "leave", "Leave prompt", show=True)]

    class Sent(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Left(Message):
        pass

    def __init__(self) -> None:
        super().__init__(placeholder="Type a message; Enter sends, Escape leaves", id="prompt")

    async def action_submit(self) -> None:
        text = self.value.strip()
        self.value = ""
        if text:
            self.post_message(self.Sent(text))

    def action_leave(self) -> None:
        self.post_message(self.Left())
