"""What every benchmark shares: the summary object each one prints, and the runs it counts.

A figure is a list of raw values (never corrected by a floor) plus the runs that failed to measure it,
each with why. A failed run is reported, never dropped: `summary` counts the reasons and a figure with
failed runs cannot meet its goal.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]  # the checkout; probes run as `python -m bench.…` from here


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def summary(name: str, values: list[float], unit: str, goal: str | None = None, goal_met: bool | None = None,
            *, failures: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """One benchmark figure as a JSON-able object: median, p95, min, max, runs and failed runs (with why)."""
    ordered = sorted(float(v) for v in values)
    failed = list(failures or [])
    result: dict[str, Any] = {
        "benchmark": name, "unit": unit, "runs": len(ordered) + len(failed),
        "median": round(statistics.median(ordered), 2) if ordered else None,
        "p95": round(percentile(ordered, 95), 2) if ordered else None,
        "min": round(ordered[0], 2) if ordered else None, "max": round(ordered[-1], 2) if ordered else None,
        "failed_runs": len(failed), "failures": dict(Counter(failed)),
        "goal": goal, "goal_met": None if goal_met is None else bool(goal_met) and not failed,
        "values": [round(float(v), 2) for v in values],  # run by run, in the order measured
    }
    result.update(extra)
    return result


@dataclass
class Runs:
    """Values and failures gathered run by run."""

    values: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    clipped: int = 0  # runs measured, but with a defect worth counting (e.g. a reply's first ms lost)
    note: str = ""  # what else the runs showed, for the result

    def add(self, value: float | None, why: str = "") -> None:
        """A measured value, or (None) a failed run and why."""
        if value is None:
            self.failures.append(why or "not measured")
        else:
            self.values.append(value)

    def fail(self, why: str) -> None:
        self.failures.append(why)

    def at_most(self, goal: float, statistic: str = "p95") -> bool | None:
        """Whether the chosen statistic is within `goal` (None when nothing was measured)."""
        if not self.values:
            return False if self.failures else None
        value = {"p95": percentile(self.values, 95), "median": statistics.median(self.values),
                 "max": max(self.values)}[statistic]
        return value <= goal

    def figure(self, name: str, unit: str, goal: str | None = None, goal_met: bool | None = None,
               **extra: Any) -> dict[str, Any]:
        return summary(name, self.values, unit, goal, goal_met, failures=self.failures, **extra)


def ratio(ours: dict[str, Any], theirs: dict[str, Any]) -> float | None:
    """Median over median, both from the same run; None when either was not measured."""
    if not ours.get("median") or not theirs.get("median"):
        return None
    return round(float(ours["median"]) / float(theirs["median"]), 2)


def paired(ours: Runs, theirs: Runs) -> dict[str, Any] | None:
    """Run by run differences (ours − theirs) where run N of both had the same conditions: their median, and
    how many runs each way. None unless every run of both was measured (a failed run would shift the pairs)."""
    if ours.failures or theirs.failures or not ours.values or len(ours.values) != len(theirs.values):
        return None
    differences = [a - b for a, b in zip(ours.values, theirs.values, strict=True)]
    return {"median": round(statistics.median(differences), 2), "values": [round(d, 2) for d in differences],
            "ours_later": sum(d > 0 for d in differences), "ours_earlier": sum(d < 0 for d in differences)}


def compare(ours: dict[str, Any], baseline: dict[str, Any], label: str) -> dict[str, Any]:
    """Attach a baseline measured in the same run to a figure: its median and the ratio of medians."""
    ours["baseline"] = {"subject": label, "median": baseline.get("median"), "p95": baseline.get("p95"),
                        "runs": baseline.get("runs"), "failed_runs": baseline.get("failed_runs"),
                        "failures": baseline.get("failures"), "ratio": ratio(ours, baseline)}
    return ours
