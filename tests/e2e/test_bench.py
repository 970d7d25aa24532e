"""The benchmark runs end to end and counts what docs/performance.md claims it counts.

A short run (a fraction of a second per round) of two scenarios: the numbers that do not depend
on the machine, upstream calls per request and errors, must be exact; the timings only present.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_bench_counts_one_call_per_execution_and_none_when_cached(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    finished = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--concurrency",
            "2",
            "--duration",
            "0.3",
            "--repeat",
            "2",
            "--scenario",
            "20 executions, four kinds",
            "--scenario",
            "finished execution, cached",
            "--output",
            str(output),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    report = json.loads(output.read_text())
    assert report["settings"]["rounds"] == 2
    results = {r["scenario"]: r for r in report["results"]}
    fan_out = results["20 executions, four kinds"]
    cached = results["finished execution, cached"]
    assert fan_out["errors"] == 0
    assert cached["errors"] == 0
    assert fan_out["upstream_calls_per_request"] == 20.0
    assert cached["upstream_calls_per_request"] == 0.0
    for result in (fan_out, cached):
        assert result["requests"] > 0
        assert (
            result["requests_per_s_min"] <= result["requests_per_s"] <= result["requests_per_s_max"]
        )
        assert 0 < result["p50_ms"] <= result["p90_ms"] <= result["p99_ms"]
    assert "| 20 executions, four kinds" in finished.stdout
