"""One conversation turn: a heading and a body, updated in place as deltas arrive.

Assistant text streams through `Markdown.get_stream`, which appends fragments instead of re-parsing the
whole turn per delta. Text from the network never goes through Rich markup.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Markdown, Static
from textual.widgets.markdown import MarkdownStream

PLACEHOLDER = "…"


class UserTurn(Vertical):
    def __init__(self, item_id: str, text: str | None, *, typed: bool = False) -> None:
        super().__init__(classes="turn -user" + (" -typed" if typed else ""))
        self.item_id = item_id
        self._text = text or PLACEHOLDER

    def compose(self) -> ComposeResult:
        yield Label("You", classes="turn-heading")
        yield Static(self._text, markup=False, classes="turn-body")

    def set_text(self, text: str, *, final: bool = True, failed: bool = False) -> None:
        self._text = text or PLACEHOLDER
        self.query_one(".turn-body", Static).update(self._text)
        self.set_class(not final, "-partial")
        self.set_class(failed, "-failed")


class AssistantTurn(Vertical):
    def __init__(self, item_id: str) -> None:
        super().__init__(classes="turn -assistant -streaming")
        self.item_id = item_id
        self.text = ""
        self._stream: MarkdownStream | None = None

    def compose(self) -> ComposeResult:
        yield Label("Assistant", classes="turn-heading")
        yield Markdown("", classes="turn-body")

    @property
    def caught_up(self) -> bool:
        """Whether everything received is on screen (the Markdown stream renders in the background)."""
        return not self.has_class("-streaming") or self.query_one(Markdown).source == self.text

    async def append(self, delta: str) -> None:
        self.text += delta
        if self._stream is None:
            self._stream = Markdown.get_stream(self.query_one(Markdown))
        await self._stream.write(delta)

    async def finish(self, *, status: str, interrupted_at_ms: int | None, heard_text: str | None,
                     full_text: str, details: str = "") -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        self.remove_class("-streaming")
        # Stopping the stream can cut off a fragment it was still drawing (its source says otherwise),
        # so the finished turn is rendered once more, whole: once per turn, not per delta.
        shown = heard_text + " —" if heard_text else (full_text or self.text)
        if self.is_attached:
            await self.query_one(Markdown).update(shown)
        self.text = heard_text or full_text or self.text
        if not self.is_attached:  # scrolled out of the bounded log meanwhile: nothing left to annotate
            return
        if interrupted_at_ms is not None:
            self.add_class("-interrupted")
            await self.mount(Label(f"interrupted at {interrupted_at_ms / 1000:.1f} s", classes="turn-note"))
        elif status not in ("completed", ""):
            self.add_class("-interrupted")
            await self.mount(Label(f"({status})", classes="turn-note"))
        if details:
            await self.mount(Label(details, classes="turn-details"))


class NoticeLine(Static):
    """A system notice or an error, inline in the log."""

    def __init__(self, text: str, *, level: str = "information") -> None:
        super().__init__(text, markup=False, classes=f"notice -{level}")
