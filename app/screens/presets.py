"""Presets side by side: every saved turn-detection preset and every setting used in this session, with the
medians of the turns taken with it. Enter switches to the highlighted row; a name and Enter below saves
the settings live now as a preset (in the config file's `[presets.NAME]`).
"""

from __future__ import annotations

from collections.abc import Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label

from app.files import WriteError
from app.presets import ComparisonRow, PresetBook, PresetError, comparison_rows
from app.protocol.session import TurnDetection
from app.voicelive.timeline import Summary

COLUMNS = ("", "preset", "settings", "turns", "eot", "detect", "stop", "int", "cut")
LEGEND = ("medians in ms — eot: end of your speech → reply audible · detect: speech → speech_started · "
          "stop: end of speech → speech_stopped · int: replies interrupted · cut: turns that cut you off")


def _ms(value: int | None) -> str:
    return "—" if value is None else str(value)


def cells(row: ComparisonRow) -> tuple[str, ...]:
    summary = row.summary
    counts: tuple[str, ...] = ("0", "—", "—", "—", "—", "—")
    if summary is not None:
        counts = (str(summary.turns), _ms(summary.end_of_turn_ms), _ms(summary.detection_ms), _ms(summary.stop_ms),
                  f"{summary.interrupted}/{summary.turns}", f"{summary.cut_off}/{summary.turns}")
    return ("●" if row.current else "", row.name or "(unsaved)", row.label, *counts)


class PresetsScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="presets-close"),
        Binding("n", "name_preset", "Save as…", id="presets-save"),
    ]

    def __init__(self, book: PresetBook, *, summaries: tuple[Summary, ...], current_key: str,
                 current: TurnDetection | None, use: Callable[[TurnDetection | None], None],
                 save_first: bool = False) -> None:
        super().__init__(id="presets")
        self.book = book
        self.summaries = summaries
        self.current_key = current_key
        self.current = current
        self.use = use
        self.save_first = save_first
        self.rows: list[ComparisonRow] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="presets-body"):
            yield Label("Presets: your turns with each setting · Enter switches to a row", classes="help-title")
            yield DataTable(id="presets-table", cursor_type="row", zebra_stripes=True)
            yield Label(LEGEND, id="presets-legend")
            yield Input(placeholder="save the live settings as… (a name, then Enter; n)", id="preset-name",
                        compact=True)
            yield Label("", id="presets-status", markup=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        self.show(self.summaries, self.current_key, self.current)
        (self.query_one("#preset-name") if self.save_first else table).focus()

    def show(self, summaries: tuple[Summary, ...], current_key: str, current: TurnDetection | None) -> None:
        """Redraw with the latest medians (the conversation screen forwards them while this is open)."""
        self.summaries, self.current_key, self.current = summaries, current_key, current
        self.rows = comparison_rows(self.book, summaries, current_key, current)
        table = self.query_one(DataTable)
        first = table.row_count == 0
        cursor = table.cursor_row
        table.clear()
        for row in self.rows:
            table.add_row(*cells(row))
        if first:  # start on the settings live now
            cursor = next((n for n, row in enumerate(self.rows) if row.current), 0)
        if self.rows:
            table.move_cursor(row=min(cursor, len(self.rows) - 1))

    @on(DataTable.RowSelected, "#presets-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        row = self.rows[event.cursor_row]
        self.use(row.turn_detection)
        self.dismiss(None)

    def action_name_preset(self) -> None:
        self.query_one("#preset-name", Input).focus()

    @on(Input.Submitted, "#preset-name")
    def _name_submitted(self, event: Input.Submitted) -> None:
        self._save(event.value)

    @work(exclusive=True, group="preset-save")
    async def _save(self, name: str) -> None:
        status = self.query_one("#presets-status", Label)
        try:
            path = await self.book.save(name, self.current)
        except (PresetError, WriteError) as exc:  # a name it refuses, a config file it cannot write
            status.update(str(exc))
            return
        except OSError as exc:
            status.update(f"The preset could not be saved ({exc.strerror or exc}).")
            return
        status.update(f"Saved preset {name.strip()} to {path}.")
        self.query_one("#preset-name", Input).value = ""
        self.show(self.summaries, self.current_key, self.current)
        self.query_one(DataTable).focus()

    def action_close(self) -> None:
        self.dismiss(None)
