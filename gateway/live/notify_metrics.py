"""Outbound notifications' counters as Prometheus metrics, read at scrape time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client.metrics_core import Metric

    from gateway.live.notify import Notifier

__all__ = ["NotifyCollector"]


class NotifyCollector:
    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    def collect(self) -> Iterator[Metric]:
        stats = self._notifier.stats
        names = [target.name for target in self._notifier.targets]
        for name, help_text, counts in (
            ("gateway_notifications_sent", "Events a receiver took (2xx).", stats.sent),
            ("gateway_notifications_failed", "Attempts that failed (retried).", stats.failed),
            (
                "gateway_notifications_undeliverable",
                "Events still refused or unanswered after every attempt (kept, logged).",
                stats.undeliverable,
            ),
            (
                "gateway_notifications_dropped",
                "Events not queued: the target's queue was full (kept, logged).",
                stats.dropped,
            ),
            (
                "gateway_notifications_claimed_elsewhere",
                "Events another replica claimed first (it sends them).",
                stats.claimed_elsewhere,
            ),
        ):
            family = CounterMetricFamily(name, help_text, labels=("target",))
            for target in names:
                family.add_metric((target,), counts[target])
            yield family
        queued = GaugeMetricFamily(
            "gateway_notifications_queued", "Events waiting to be sent.", labels=("target",)
        )
        for target, size in sorted(self._notifier.queued.items()):
            queued.add_metric((target,), size)
        yield queued
        yield CounterMetricFamily(
            "gateway_notifications_changes_dropped",
            "Changes not read for notifications: the queue was full.",
            value=stats.changes_dropped,
        )
