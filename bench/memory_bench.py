"""Memory of the whole App over many typed turns: does RSS level off once the log is at its cap?

The real App (conversation screen, bounded log, Markdown streaming) runs headless under `App.run_test()`
against the emulator in the same process, with no audio engine. Each turn is typed as a user does it
(`t`, the text, Enter, Escape) and the bench waits for the reply to finish drawing before the next one.
At each checkpoint it collects garbage and samples RSS and the live objects counted by type, so a leak shows
as a type whose count grows with turns, not only as megabytes.

The emulator's own records of what it sent (reply audio, conversation items) would grow with turns too and
are not the app's: they are pruned after every turn, so what is measured is the client.

`python -m bench.memory_bench [--turns 400] [--every 100] [--runs 1]` prints one JSON object; each run is a
fresh interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from typing import Any

from bench.measure import ROOT, summary


def _count_types() -> Counter[str]:
    counts: Counter[str] = Counter()
    for obj in gc.get_objects():
        kind = type(obj)
        counts[f"{kind.__module__}.{kind.__qualname__}"] += 1
    return counts


def _prune_emulator(emulator: Any) -> None:
    """Drop the emulator's per-turn records (audio it sent, the server-side conversation): not the client's."""
    for session in emulator.sessions:
        conversation = session.conversation
        for item_id in [i for i, r in conversation.replies.items() if r.finished_at is not None]:
            del conversation.replies[item_id]
        for item_id in conversation.order[:-4]:
            conversation.remove(item_id)


async def measure(turns: int, every: int, speed: float = 200.0) -> dict[str, Any]:
    import psutil

    from app.config import load_settings
    from app.emulator.server import EmulatorOptions, EmulatorServer
    from app.services import Services
    from app.tui import VoiceLiveApp
    from app.widgets.prompt import MessagePrompt

    process = psutil.Process()
    emulator = EmulatorServer(options=EmulatorOptions(speed=speed, chunk_ms=40))
    checkpoints: dict[int, dict[str, Any]] = {}
    counts: dict[int, Counter[str]] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        app = VoiceLiveApp(load_settings({("connection", "local"): True}, environ={}),
                           Services(engine=None, emulator=emulator, audio_error="bench: no audio",
                                    transcript_dir=folder))
        async with app.run_test(size=(100, 30)) as pilot:
            await _until(lambda: app.main.is_mounted and app.main.status.state == "connected"
                         and app.session.config.confirmed is not None and not app.main.status.pending)
            prompt = app.main.query_one(MessagePrompt)
            for n in range(1, turns + 1):
                await pilot.press("t")
                prompt.value = f"turn {n}: tell me something short"
                await pilot.press("enter", "escape")
                await _until(lambda n=n: _turns_done(app) >= 2 * n)
                await pilot.pause()
                _prune_emulator(emulator)
                if n % every == 0:
                    gc.collect()
                    checkpoints[n] = {"rss_mb": round(process.memory_info().rss / 1e6, 1),
                                      "gc_objects": len(gc.get_objects()),
                                      "seconds": round(time.perf_counter() - started, 1)}
                    counts[n] = _count_types()
                    print(f"turn {n}: {checkpoints[n]}", file=sys.stderr, flush=True)  # progress; stdout is JSON
            await pilot.press("q")
    first, last = min(checkpoints), max(checkpoints)
    growth = Counter(counts[last])
    growth.subtract(counts[first])
    per_turn = last - first
    top = [{"type": name, "growth": delta, "per_turn": round(delta / per_turn, 2) if per_turn else None}
           for name, delta in growth.most_common(15) if delta > 0]
    return {"checkpoints": checkpoints,
            "rss_growth_mb": round(checkpoints[last]["rss_mb"] - checkpoints[first]["rss_mb"], 1),
            "from_turn": first, "to_turn": last, "top_growing_types": top}


def _turns_done(app: Any) -> int:
    return sum(1 for turn in app.session.conversation.turns if turn.done)


async def _until(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        await asyncio.sleep(0.005)


def _one_run(turns: int, every: int) -> dict[str, Any]:
    """A run in a fresh interpreter: what an earlier run left on the heap must not count."""
    out = subprocess.run([sys.executable, "-m", "bench.memory_bench", "--single", "--turns", str(turns),
                          "--every", str(every)], cwd=str(ROOT), stdout=subprocess.PIPE, text=True, check=False)
    if out.returncode != 0:  # its traceback went to our stderr
        return {"error": f"the run exited with code {out.returncode}"}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def run_memory(runs: int, turns: int = 400, every: int = 100) -> list[dict[str, Any]]:
    """For `python -m bench`: RSS growth from the first checkpoint to the last, one fresh process per run."""
    results = [await asyncio.to_thread(_one_run, turns, every) for _ in range(runs)]
    growth = [r["rss_growth_mb"] for r in results if "rss_growth_mb" in r]
    return [summary("rss_growth_typed_turns", growth, "MB", f"< 10 MB from turn {every} to {turns}",
                    bool(growth) and max(growth) < 10 if len(growth) == runs else False,
                    turns=turns, failed_runs=runs - len(growth), per_run=results)]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory_bench")
    parser.add_argument("--turns", type=int, default=400)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--single", action="store_true", help="measure in this process (what each run does)")
    args = parser.parse_args()
    if args.single:
        print(json.dumps(asyncio.run(measure(args.turns, args.every))))
        return
    print(json.dumps(asyncio.run(run_memory(args.runs, args.turns, args.every))[0]))


if __name__ == "__main__":
    main()
