"""Every benchmark runs once, reduced, so the benchmarks cannot rot. Nothing here judges the numbers:
that is the benchmarks' job (`python -m bench all`); this only checks that each one measured something.

A benchmark's run may fail to see its event (that is a figure too: a failed run, counted with why); the
machinery is broken only when a whole suite measures nothing, or a figure has neither a value nor a reason.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt install tmux)"),
              pytest.mark.tmux]


def _accounted(result: dict[str, Any]) -> bool:
    """Every run either gave a value or failed with a reason."""
    values, failed = len(result["values"]), result["failed_runs"]
    return result["runs"] >= 1 and values + failed == result["runs"] and bool(values or result["failures"])


def _measured(results: list[dict[str, Any]]) -> int:
    return sum(isinstance(result["median"], float) for result in results)


@pytest.mark.timeout(300)
async def test_latency_suite_measures_something(audio_devices: None, tmp_path: Path) -> None:
    from bench.suites import run_latency

    results = await run_latency(1, tmp_path)
    assert [r["benchmark"] for r in results] == ["loopback_floor", "first_audio", "mic_to_wire",
                                                 "stop_after_speech_started", "stop_after_speech_started",
                                                 "stop_after_key", "duck", "truncation_error"]
    assert all(_accounted(r) for r in results), results
    assert _measured(results) >= 6, results
    assert results[1]["baseline"]["subject"] == "UI-less callback client", results[1]


@pytest.mark.timeout(200)
async def test_mic_gap_benchmark_measures_something(audio_devices: None, tmp_path: Path) -> None:
    from bench.mic_gaps import measure, results

    figures = results(await measure(1, tmp_path, kinds=("app", "client"), session_s=4.0))
    assert [(r["benchmark"], r["subject"]) for r in figures][:3] == [
        ("mic_gap_max", "voicelive-tui"), ("mic_gap_p99", "voicelive-tui"), ("mic_gap_startup", "voicelive-tui")]
    assert all(_accounted(r) for r in figures), figures
    assert _measured(figures) == 6, figures


@pytest.mark.timeout(200)
async def test_cpu_startup_and_memory_benchmarks_measure_something(audio_devices: None, tmp_path: Path) -> None:
    from bench.system import cpu, startup

    figures = await cpu(1, tmp_path, window_s=0.5) + await startup(1)
    assert all(_accounted(r) for r in figures), figures
    assert _measured(figures) == len(figures), figures


@pytest.mark.timeout(200)
async def test_memory_benchmark_measures_something() -> None:
    from bench.memory_bench import measure

    result = await measure(turns=2, every=1)
    assert sorted(result["checkpoints"]) == [1, 2] and result["rss_growth_mb"] is not None, result


@pytest.mark.timeout(120)
async def test_long_reply_benchmark_measures_something(audio_devices: None) -> None:
    from bench.underruns import long_reply

    (figure,) = await long_reply(seconds=4.0)
    assert _accounted(figure), figure


def test_gaps_are_runs_of_exact_zeros_inside_the_reply() -> None:
    import numpy as np

    from tests.audio_harness import gaps_in

    noise = np.full(24_000, 300, np.int16)
    noise[1000:1240] = 0  # 10 ms heard as a gap
    noise[5000:5010] = 0  # under 1 ms: a zero crossing, not a gap
    assert gaps_in(np.concatenate([np.zeros(500, np.int16), noise, np.zeros(500, np.int16)])) == [10.0]


def test_a_silent_or_short_recording_is_not_a_reply_heard_in_full() -> None:
    import numpy as np

    from bench.underruns import heard_seconds

    assert heard_seconds(np.zeros(48_000, np.int16)) == 0.0
    short = np.zeros(48_000, np.int16)
    short[2400:12_000] = 500  # 0.4 s of a 2 s reply
    assert round(heard_seconds(short), 2) == 0.4
