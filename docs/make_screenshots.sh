#!/usr/bin/env bash
# Regenerate the SVG snapshots and render the PNGs in docs/ (needs rsvg-convert: apt install librsvg2-bin).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest -q tests/test_snapshots.py --snapshot-update
for n in idle-80x24 mid_reply-80x24 interrupted-80x24 muted-80x24 error-160x48 settings_invalid-80x24 help-80x24 idle-160x48 \
         tool_call-80x24 tool_call_expanded-80x24 approval-80x24 \
         timeline-80x24 presets-80x24 push_to_talk-80x24; do
  rsvg-convert "tests/__snapshots__/test_snapshots/test_snapshot[$n].svg" -o "docs/$n.png"
done
