"""`python -m bench all [--runs N] [--save]`: every benchmark of the whole app, one JSON object each.

    python -m bench all --runs 10 --save    # all of them; --save writes bench/results/<date>.json
    python -m bench latency|gaps|system     # one suite
    python -m bench table [FILE]            # the README's Markdown table from a results file (default: newest)

Needs the virtual sound devices (`eval "$(bash scripts/virtual-audio.sh start)"`), tmux, and the app
installed in this checkout's `.venv`; the mic-gap comparison also runs the checkout before this round
(`bench/tui.py: BEFORE_APP`) when it is there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.measure import ROOT


async def run(which: str, runs: int) -> list[dict[str, Any]]:
    from bench import mic_gaps, suites, system, underruns
    from bench.tui import kill_server

    results: list[dict[str, Any]] = []

    def emit(new: list[dict[str, Any]]) -> None:
        for result in new:
            print(json.dumps(result), flush=True)
        results.extend(new)

    try:
        with tempfile.TemporaryDirectory(prefix="bench-") as folder:
            tmp = Path(folder)
            if which in ("all", "latency"):
                emit(await suites.run_latency(runs, tmp))
            if which in ("all", "gaps"):
                emit(mic_gaps.results(await mic_gaps.measure(runs, tmp)))
            if which in ("all", "system"):
                emit(await system.cpu(runs, tmp))
                emit(await system.startup(runs))
                emit(await underruns.long_reply())
                emit(await system.memory(runs))
    finally:
        kill_server()
    return results


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    return out.stdout.strip() or "?"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("which", nargs="?", default="all", choices=["all", "latency", "gaps", "system", "table"])
    parser.add_argument("file", nargs="?", type=Path, help="with `table`: the results file (default: the newest)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--save", action="store_true", help="also write bench/results/<date>.json")
    args = parser.parse_args()
    from bench.report import RESULTS, latest_results, markdown, table_for

    if args.which == "table":
        print(table_for(args.file or latest_results()))
        return
    if "PULSE_SERVER" not in os.environ:
        sys.exit("Start the virtual sound devices first: eval \"$(bash scripts/virtual-audio.sh start)\"")
    started, load_before = time.monotonic(), [round(x, 2) for x in os.getloadavg()]
    commit = _commit()  # what is measured is what was checked out when the run began
    results = asyncio.run(run(args.which, args.runs))
    data = {"date": time.strftime("%Y-%m-%d %H:%M"), "commit": commit, "runs": args.runs,
            "minutes": round((time.monotonic() - started) / 60, 1),
            "load_average": {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]},
            "machine": {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
                        "system": platform.platform()},
            "results": results}
    print()
    name = f"{time.strftime('%Y-%m-%d')}.json"
    print(markdown(data, name))
    if args.save:
        for old in RESULTS.glob("*.json"):
            old.unlink()  # one results file: the README's table comes from it
        (RESULTS / name).write_text(json.dumps(data, indent=2) + "\n")
        print(f"\nsaved to {RESULTS / name}")


if __name__ == "__main__":
    main()
