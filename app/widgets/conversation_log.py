"""The scrolling log of turns. Follows new content unless the user has scrolled up."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widget import Widget

from app.tools.call_state import ToolCallState
from app.widgets.turn import AssistantTurn, NoticeLine, UserTurn


class ConversationLog(VerticalScroll):
    """Keeps the newest `max_widgets` entries on screen, like a terminal's scrollback: a long session must
    not grow without bound. Older turns stay in the conversation, the JSONL transcript and exports.

    Trimmed turns are freed (tests/test_memory.py checks it), except that Textual 8.2 keeps the render
    cache of the last ~1000 widgets it drew in a class-level `lru_cache` (textual#6665): a fixed few MB,
    full after ~50 typed turns, that does not grow after that."""

    def __init__(self, max_widgets: int = 120) -> None:
        super().__init__(id="conversation-log")
        self._turns: dict[str, UserTurn | AssistantTurn] = {}
        self._by_response: dict[str, AssistantTurn] = {}  # where a response's tool calls are shown
        self.max_widgets = max_widgets
        self.trimmed = 0
        self._last_notice: NoticeLine | None = None

    @property
    def following(self) -> bool:
        return self.scroll_y >= self.max_scroll_y - 1

    async def _add(self, widget: Widget) -> None:
        follow = self.following
        await self.mount(widget)
        excess = len(self.children) - self.max_widgets
        if excess > 0:
            old = list(self.children)[:excess]
            gone = set(old)
            self._turns = {key: turn for key, turn in self._turns.items() if turn not in gone}
            self._by_response = {key: turn for key, turn in self._by_response.items() if turn not in gone}
            self.trimmed += excess
            await self.remove_children(old)
        if follow:
            self.scroll_end(animate=False, immediate=False)

    def follow(self) -> None:
        """Call after a turn grew: keep the bottom in view if the user was there."""
        if self.following:
            self.scroll_end(animate=False, immediate=False)

    def user_turn(self, item_id: str) -> UserTurn | None:
        turn = self._turns.get(item_id)
        return turn if isinstance(turn, UserTurn) else None

    def assistant_turn(self, item_id: str) -> AssistantTurn | None:
        turn = self._turns.get(item_id)
        return turn if isinstance(turn, AssistantTurn) else None

    async def add_user(self, item_id: str, text: str | None, *, typed: bool = False) -> UserTurn:
        existing = self.user_turn(item_id)
        if existing is not None:
            return existing
        turn = UserTurn(item_id, text, typed=typed)
        self._turns[item_id] = turn
        await self._add(turn)
        return turn

    async def add_assistant(self, item_id: str, response_id: str | None = None) -> AssistantTurn:
        """The reply `item_id`; right after a turn that only called tools, it continues that turn."""
        existing = self.assistant_turn(item_id)
        if existing is not None:
            return existing
        last = self._last_turn()
        if isinstance(last, AssistantTurn) and last.only_tool_calls:
            last.begin_reply()
            turn = last
        else:
            turn = AssistantTurn(item_id)
            await self._add(turn)
        self._turns[item_id] = turn
        if response_id is not None:
            self._by_response[response_id] = turn
        return turn

    async def show_tool_call(self, call: ToolCallState) -> AssistantTurn:
        """The call's block, inside the assistant turn of its response (a turn of its own if it has none)."""
        turn = self._by_response.get(call.response_id) if call.response_id is not None else None
        if turn is None and call.response_id is None:
            last = self._last_turn()
            turn = last if isinstance(last, AssistantTurn) else None
        if turn is None:
            key = f"tools:{call.response_id or call.call_id}"
            turn = AssistantTurn(key, streaming=False)
            self._turns[key] = turn
            if call.response_id is not None:
                self._by_response[call.response_id] = turn
            await self._add(turn)
        await turn.show_tool_call(call)
        return turn

    def _last_turn(self) -> UserTurn | AssistantTurn | None:
        """The newest turn (notices between turns do not count)."""
        for child in reversed(self.children):
            if isinstance(child, (UserTurn, AssistantTurn)):
                return child
        return None

    async def add_notice(self, text: str, level: str = "information") -> None:
        """A notice; the same one again right after it (a key pressed twice, a device reopened) is counted
        on its line ("×N") rather than stacked."""
        last = self.children[-1] if self.children else None
        if isinstance(last, NoticeLine) and last.base_text == text and last.level == level:
            last.count(last.repeats + 1)
            return
        self._last_notice = NoticeLine(text, level=level)
        await self._add(self._last_notice)

    async def repeat_notice(self, text: str, repeats: int, level: str = "error") -> None:
        """The same notice again: count it on its line ("×N") instead of adding another one."""
        last = self._last_notice
        if last is not None and last.is_attached and last.base_text == text:
            last.count(repeats)
        else:
            line = NoticeLine(text, level=level)
            line.count(repeats)
            self._last_notice = line
            await self._add(line)

    async def clear(self) -> None:
        self._turns.clear()
        self._by_response.clear()
        await self.remove_children()
