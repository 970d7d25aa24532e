"""The gate's counters as Prometheus metrics, read at scrape time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily

from gateway.gate.gate import CHECKS

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client.metrics_core import Metric

    from gateway.gate.gate import Gate

__all__ = ["GateCollector"]


class GateCollector:
    def __init__(self, gate: Gate) -> None:
        self._gate = gate

    def collect(self) -> Iterator[Metric]:
        refused = CounterMetricFamily(
            "gateway_gate_refusals",
            "Operations the gate refused, by the check that refused them (docs/gate.md), on "
            "every transport.",
            labels=("check",),
        )
        for check in CHECKS:
            refused.add_metric((check,), self._gate.refused[check])
        yield refused
        yield CounterMetricFamily(
            "gateway_coalesced_operations",
            "Queries answered with an identical in-flight query's result instead of running "
            "again (same document, variables, roles, scope and reviewer).",
            value=self._gate.coalescer.coalesced,
        )
