"""The README's benchmark table is what `python -m bench table` makes of the newest results file, and that
file holds what the README says every figure carries (a static check: nothing is run or timed)."""

from __future__ import annotations

import json

from bench.measure import ROOT
from bench.report import latest_results, readme_table, table_for

REQUIRED = {"benchmark", "subject", "unit", "median", "p95", "min", "max", "runs", "failed_runs", "failures",
            "goal", "goal_met", "values"}


def test_readme_table_is_generated_from_the_newest_results() -> None:
    readme = (ROOT / "README.md").read_text()
    assert readme_table(readme) == table_for(latest_results()), "run `python -m bench table` and paste its output"


def test_results_carry_raw_values_failed_runs_and_the_floor() -> None:
    data = json.loads(latest_results().read_text())
    assert {"date", "commit", "runs", "load_average", "machine"} <= set(data)
    results = {r["benchmark"]: r for r in data["results"] if r["subject"] in ("voicelive-tui", "devices only")}
    for result in data["results"]:
        assert set(result) >= REQUIRED, result["benchmark"]
        assert result["runs"] == len(result["values"]) + result["failed_runs"] or result.get("not_measured")
    floor = results["loopback_floor"]["median"]
    for name in ("first_audio", "mic_to_wire", "stop_after_speech_started", "stop_after_key", "duck"):
        assert results[name]["floor"] == floor, name  # beside, never subtracted
