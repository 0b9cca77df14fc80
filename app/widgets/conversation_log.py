"""The scrolling log of turns. Follows new content unless the user has scrolled up."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widget import Widget

from app.widgets.turn import AssistantTurn, NoticeLine, UserTurn


class ConversationLog(VerticalScroll):
    """Keeps the newest `max_widgets` entries on screen, like a terminal's scrollback: a long session must
    not grow without bound. Older turns stay in the conversation, the JSONL transcript and exports."""

    def __init__(self, max_widgets: int = 120) -> None:
        super().__init__(id="conversation-log")
        self._turns: dict[str, UserTurn | AssistantTurn] = {}
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
        self._last_notice = NoticeLine(text, level=level)
        await self._add(self._last_notice)

    async def repeat_notice(self, text: str, repeats: int, level: str = "error") -> None:
        """The same notice again: count it on its line ("×N") instead of adding another one."""
        last = self._last_notice
        if last is not None and last.is_attached and last.base_text == text:
            last.update(f"{text} ×{repeats}")
        else:
            line = NoticeLine(text, level=level)
            line.update(f"{text} ×{repeats}")
            self._last_notice = line
            await self._add(line)

    async def clear(self) -> None:
        self._turns.clear()
        await self.remove_children()
