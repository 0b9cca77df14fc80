"""The scrolling log of turns. Follows new content unless the user has scrolled up."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widget import Widget

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
        self.max_widgets = max_widgets
        self.trimmed = 0

    @property
    def following(self) -> bool:
        return self.scroll_y >= self.max_scroll_y - 1

    async def _add(self, widget: Widget) -> None:
        follow = self.following
        await self.mount(widget)
        excess = len(self.children) - self.max_widgets
        if excess > 0:
            old = list(self.children)[:excess]
            for entry in old:
                self._turns.pop(getattr(entry, "item_id", ""), None)
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

    async def add_assistant(self, item_id: str) -> AssistantTurn:
        existing = self.assistant_turn(item_id)
        if existing is not None:
            return existing
        turn = AssistantTurn(item_id)
        self._turns[item_id] = turn
        await self._add(turn)
        return turn

    async def add_notice(self, text: str, level: str = "information") -> None:
        await self._add(NoticeLine(text, level=level))

    async def clear(self) -> None:
        self._turns.clear()
        await self.remove_children()
