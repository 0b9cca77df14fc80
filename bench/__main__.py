"""`python -m bench [all|audio|system] [--runs N] [--save]`: every benchmark, one JSON object each, a table."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from pathlib import Path
from typing import Any


def table(results: list[dict[str, Any]]) -> str:
    lines = [f"{'benchmark':<22} {'median':>9} {'p95':>9}  {'unit':<22} {'goal':<34} met",
             "-" * 104]
    for r in results:
        met = {True: "yes", False: "NO", None: "-"}[r.get("goal_met")]
        lines.append(f"{r['benchmark']:<22} {r['median']!s:>9} {r['p95']!s:>9}  {r['unit']:<22} "
                     f"{(r.get('goal') or ''):<34} {met}")
    return "\n".join(lines)


async def run(which: str, runs: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    if which in ("all", "audio"):
        from bench.audio_bench import run_audio

        results += await run_audio(runs)
    if which in ("all", "system"):
        from bench.system_bench import run_system

        results += await run_system(runs)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("which", nargs="?", default="all", choices=["all", "audio", "system"])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--save", action="store_true", help="also write bench/results/<date>.json")
    args = parser.parse_args()
    results = asyncio.run(run(args.which, args.runs))
    for result in results:
        print(json.dumps(result))
    print()
    print(table(results))
    if args.save:
        path = Path(__file__).parent / "results" / f"{time.strftime('%Y-%m-%d')}.json"
        path.parent.mkdir(exist_ok=True)
        machine = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
                   "system": platform.platform()}
        path.write_text(json.dumps({"machine": machine, "runs": args.runs, "results": results}, indent=2) + "\n")
        print(f"\nsaved to {path}")


if __name__ == "__main__":
    main()
