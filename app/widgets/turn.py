"""One conversation turn: a heading and a body, updated in place as deltas arrive.

Assistant text streams through `Markdown.get_stream`, which appends fragments instead of re-parsing the
whole turn per delta. Text from the network never goes through Rich markup.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Markdown, Static
from textual.widgets.markdown import MarkdownStream

from app.tools.call_state import ToolCallState
from app.widgets.tool_call import ToolCallBlock

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
    """The reply's text, and the tool calls its response made (compact blocks; see `show_tool_call`)."""

    def __init__(self, item_id: str, *, streaming: bool = True) -> None:
        super().__init__(classes="turn -assistant" + (" -streaming" if streaming else " -no-text"))
        self.item_id = item_id
        self.text = ""
        self._stream: MarkdownStream | None = None
        self.tool_calls: dict[str, ToolCallBlock] = {}
        self._timing: Label | None = None
        self.timing_text = ""

    def compose(self) -> ComposeResult:
        yield Label("Assistant", classes="turn-heading")
        yield Markdown("", classes="turn-body")

    @property
    def caught_up(self) -> bool:
        """Whether everything received is on screen (the Markdown stream renders in the background)."""
        return not self.has_class("-streaming") or self.query_one(Markdown).source == self.text

    @property
    def only_tool_calls(self) -> bool:
        """A turn made for a response that only called tools: the reply that follows belongs in it."""
        return bool(self.tool_calls) and not self.text and not self.has_class("-streaming")

    def begin_reply(self) -> None:
        """The reply after this turn's tool calls streams in below them."""
        self.add_class("-streaming")

    async def show_tool_call(self, call: ToolCallState) -> None:
        """Add the call's block (above the reply when no text came yet), or draw its newer state."""
        block = self.tool_calls.get(call.call_id)
        if block is not None:
            block.show(call)
            return
        block = self.tool_calls[call.call_id] = ToolCallBlock(call)
        body = self.query_one(Markdown)
        if not self.text:
            await self.mount(block, before=body)
        else:
            children = list(self.children)
            below = [c for c in children[children.index(body) + 1:] if isinstance(c, ToolCallBlock)]
            await self.mount(block, after=below[-1] if below else body)

    async def append(self, delta: str) -> None:
        self.remove_class("-no-text")
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
            await self._note(Label(f"interrupted at {interrupted_at_ms / 1000:.1f} s", classes="turn-note"))
        elif status not in ("completed", ""):
            self.add_class("-interrupted")
            await self._note(Label(f"({status})", classes="turn-note", markup=False))  # from the network
        if details:
            await self._note(Label(details, classes="turn-details", markup=False))

    async def _note(self, label: Label) -> None:
        """Each await may let the log trim or clear this turn: annotate it only while it is on screen."""
        if self.is_attached:
            await self.mount(label, before=self._timing)

    async def set_timing(self, text: str) -> None:
        """The turn's timeline (detection, stop, reply audible…), under the other details; updated in place."""
        if text == self.timing_text or not self.is_attached:
            return
        self.timing_text = text
        if self._timing is None:
            self._timing = Label(text, classes="turn-details turn-timing", markup=False)
            await self.mount(self._timing)
        else:
            self._timing.update(text)


class NoticeLine(Static):
    """A system notice or an error, inline in the log."""

    def __init__(self, text: str, *, level: str = "information") -> None:
        super().__init__(text, markup=False, classes=f"notice -{level}")
        self.base_text = text
        self.level = level
        self.repeats = 1  # times it was said in a row (shown as "×N" from the second)

    def count(self, repeats: int) -> None:
        """Said `repeats` times: one line with its count, not a line each."""
        self.repeats = repeats
        self.update(f"{self.base_text} ×{repeats}")
