"""The live layer's counters as Prometheus metrics, read at scrape time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client.metrics_core import Metric

    from gateway.live.coherence import CoherenceStats
    from gateway.live.hub import LiveHub

__all__ = ["LiveCollector"]


class LiveCollector:
    def __init__(self, hub: LiveHub, coherence: CoherenceStats | None = None) -> None:
        self._hub = hub
        self._coherence = coherence

    def collect(self) -> Iterator[Metric]:
        stats = self._hub.stats
        webhooks = CounterMetricFamily(
            "gateway_webhooks",
            "Webhook deliveries by source and outcome (accepted, duplicate, ignored_type, "
            "bad_signature, unreadable, no_execution, unknown_execution).",
            labels=("source", "outcome"),
        )
        for (source, outcome), count in sorted(stats.webhooks.items()):
            webhooks.add_metric((source, outcome), count)
        yield webhooks
        for name, help_text, value in (
            ("gateway_live_refreshes", "Upstream re-reads after webhooks.", stats.refreshes),
            (
                "gateway_live_polls",
                "Poll rounds (watched executions, feeds, pending lists).",
                stats.polls,
            ),
            (
                "gateway_live_polls_elsewhere",
                "Poll rounds another replica claimed (shared state), skipped here.",
                stats.polls_elsewhere,
            ),
            (
                "gateway_live_published",
                "Execution changes published to subscribers.",
                stats.published,
            ),
            (
                "gateway_live_approvals_announced",
                "Approvals announced as newly pending.",
                stats.approvals_announced,
            ),
            (
                "gateway_live_slow_consumers",
                "Subscribers dropped for falling behind.",
                stats.slow_consumers,
            ),
            (
                "gateway_live_resumed",
                "Subscriptions resumed after a position (replayed from the change log).",
                stats.resumed,
            ),
            (
                "gateway_live_resume_too_old",
                "Resumes refused: the change log no longer held the position (RESUME_TOO_OLD).",
                stats.resume_too_old,
            ),
        ):
            yield CounterMetricFamily(name, help_text, value=value)
        if self._coherence is not None:
            for name, help_text, value in (
                (
                    "gateway_cache_changes_announced",
                    "Changes learnt here (webhook, decision) announced to the other replicas.",
                    self._coherence.announced,
                ),
                (
                    "gateway_cache_changes_heard",
                    "Changes other replicas announced, dropped from this one's caches.",
                    self._coherence.heard,
                ),
                (
                    "gateway_cache_forgot_everything",
                    "Times this replica dropped all it cached, having perhaps missed a change.",
                    self._coherence.forgot_everything,
                ),
            ):
                yield CounterMetricFamily(name, help_text, value=value)
        yield GaugeMetricFamily(
            "gateway_live_subscriptions",
            "Open subscriptions.",
            value=self._hub.open_subscriptions,
        )
        yield GaugeMetricFamily(
            "gateway_live_polls_active", "Shared polls running now.", value=len(self._hub.polls)
        )
