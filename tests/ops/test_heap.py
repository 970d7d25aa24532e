"""Collector pauses are recorded per generation and reach /metrics as a histogram."""

from __future__ import annotations

import gc

from prometheus_client import generate_latest

from gateway.core.runtime import Runtime
from gateway.demo import demo_config
from gateway.ops.heap import PAUSE_BUCKETS_S, CollectorPauses
from gateway.ops.metrics import GatewayMetrics


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_each_collection_is_timed_by_generation() -> None:
    clock = Clock()
    pauses = CollectorPauses(clock)
    for generation, took in ((0, 0.002), (0, 0.03), (2, 0.2)):
        pauses("start", {"generation": generation})
        clock.now += took
        pauses("stop", {"generation": generation})
    assert pauses.count == [2, 0, 1]
    assert pauses.longest[0] == 0.03
    assert pauses.seconds[2] == 0.2
    index_5ms = PAUSE_BUCKETS_S.index(0.005)
    index_50ms = PAUSE_BUCKETS_S.index(0.05)
    assert pauses.buckets[0][index_5ms] == 1
    assert pauses.buckets[0][index_50ms] == 2
    assert pauses.buckets[2][index_50ms] == 0


def test_an_installed_recorder_sees_real_collections() -> None:
    pauses = CollectorPauses()
    pauses.install()
    pauses.install()  # once only
    try:
        assert gc.callbacks.count(pauses) == 1
        gc.collect(0)
        gc.collect()
    finally:
        pauses.uninstall()
    assert pauses not in gc.callbacks
    assert pauses.count[0] >= 1
    assert pauses.count[2] >= 1


def test_pauses_are_exported_as_a_histogram() -> None:
    runtime = Runtime(demo_config("http://127.0.0.1:9"))
    text = generate_latest(GatewayMetrics(runtime.stats, runtime.adapters).registry).decode()
    for generation in ("0", "1", "2"):
        assert f'gateway_gc_pause_seconds_count{{generation="{generation}"}}' in text
    assert 'gateway_gc_pause_seconds_bucket{generation="0",le="0.005"}' in text
