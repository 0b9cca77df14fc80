"""SVG snapshots of every screen state a reviewer should look at, at 80×24 and 160×48.

What should be visible:
* idle — one finished exchange, both meters, the footer's keys, "connected" and the emulator host.
* mid_reply — the second reply half-streamed (amber edge), the user's transcript filled in.
* interrupted — the reply cut at the last word heard, red edge, "interrupted at 1.8 s".
* muted — MUTED in the status line and on the mic meter.
* error — a service error and a rejected setting, inline, in red.
* settings / settings_invalid — the form; with 1.5 as threshold, the field error and Apply disabled.
* help — every binding.
* tool_call — one assistant turn: two collapsed blocks (current_time ✓ 3 ms, docs.microsoft_docs_search ✓
  840 ms) above the reply that quotes them.
* tool_call_expanded — the same blocks open: pretty-printed arguments, then each result.
* approval — the prompt over the conversation: "Run the tool save_note?", its arguments, Approve (y) /
  Deny (n); behind it, save_note's block in a turn of its own, "? waiting for your answer" (amber edge).
* timeline — the strip under the meters (last end-of-turn latencies, medians for the live setting, the
  interrupted and cut-off counts in amber), the reply's details with its usage and timeline (d), tokens in
  the status line, the turn detection marked ✓ (confirmed).
* presets — the comparison: saved presets and an unsaved setting side by side, the live one marked ●.
* push_to_talk — "push-to-talk ✓ │ TALKING (space sends)", the mic meter's TALK, space in the footer
  instead of the threshold and silence keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.scenarios import SCENARIOS, scenario_app


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_snapshot(snap_compare: Any, tmp_path: Path, name: str, size: tuple[int, int]) -> None:
    assert snap_compare(scenario_app(tmp_path), terminal_size=size, run_before=SCENARIOS[name])
