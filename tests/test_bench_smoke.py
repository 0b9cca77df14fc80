"""Every benchmark runs once, reduced, so the benchmarks cannot rot. Nothing here judges the numbers:
that is the benchmarks' job (`python -m bench all`); this only checks that each one measured something."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest


def _measured(result: dict[str, Any]) -> bool:
    return result["runs"] >= 1 and isinstance(result["median"], float)


async def test_audio_benchmarks_measure_something(audio_devices: None, tmp_path: Path) -> None:
    from bench.audio_bench import barge_in, first_audio, loopback_floor, mic_to_wire

    floor = await loopback_floor(1, tmp_path)
    assert _measured(floor), floor
    results = [await first_audio(1, tmp_path, floor["median"]), await mic_to_wire(1, tmp_path, floor["median"])]
    results += await barge_in(1, tmp_path, floor["median"])
    for result in results:
        assert _measured(result), result


async def test_ingest_and_startup_benchmarks_measure_something() -> None:
    from bench.system_bench import event_ingest, startup

    for result in await startup(1) + await event_ingest(2.0):
        assert _measured(result), result


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
async def test_cpu_and_memory_benchmark_measures_something(audio_devices: None) -> None:
    from bench.system_bench import cpu_and_memory

    for result in await cpu_and_memory(turns=2, seconds=1.0):
        assert _measured(result), result


async def test_memory_benchmark_measures_something() -> None:
    from bench.memory_bench import measure

    result = await measure(turns=2, every=1)
    assert sorted(result["checkpoints"]) == [1, 2] and result["rss_growth_mb"] is not None, result
