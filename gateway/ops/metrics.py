"""Prometheus metrics, in a registry per app so that several apps (and tests) never collide.

Three feeds, each where the fact is known: the request observer (GraphQL requests, latency,
in flight), a ``CallRecord`` observer on every source (upstream calls and latency), and the
loaders' batch hook (batch sizes). Cache counters and breaker states are read from the runtime at
scrape time. Every label is bounded: sources and endpoint templates come from the code and the
config, operation names are capped (``other`` beyond ``MAX_OPERATION_NAMES``), no id, no raw path.
docs/deployment.md lists the names.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from gateway.ops.heap import PAUSE_BUCKETS_S, PAUSES, CollectorPauses
from gateway.ops.observe import GRAPHQL_PATH

if TYPE_CHECKING:
    import collections
    from collections.abc import Iterator, Mapping

    from prometheus_client.metrics_core import Metric
    from starlette.requests import Request

    from adapters.base import SourceAdapter
    from adapters.engine import CallRecord
    from gateway.ops.observe import RequestRecord
    from gateway.ops.stats import SourceStats

__all__ = [
    "BREAKER_STATES",
    "MAX_OPERATION_NAMES",
    "METRICS_PATH",
    "AnswerCacheCounts",
    "GatewayMetrics",
    "StateHealth",
]

METRICS_PATH = "/metrics"
MAX_OPERATION_NAMES = 100
"""Distinct operation names tracked per process; later ones are counted as ``other``."""
MAX_OPERATION_NAME_CHARS = 64
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200)
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
"""``gateway_circuit_breaker_state`` values."""
_GRAPHQL_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")


class GatewayMetrics:
    """The app's collectors, and the hooks that feed them."""

    def __init__(
        self,
        stats: Mapping[str, SourceStats],
        adapters: Mapping[str, SourceAdapter],
        answers: AnswerCacheCounts | None = None,
        state: StateHealth | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self._operations: set[str] = set()
        self._call_children: dict[
            tuple[str, str, str, int | None, str | None], tuple[Counter, Histogram]
        ] = {}
        """Bounded like the label sets: sources x templates x statuses x error codes."""
        self._request_children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        """Bounded by the capped operation names x outcomes."""
        self._batch_children: dict[str, Histogram] = {}
        registry = self.registry
        self.graphql_requests = Counter(
            "gateway_graphql_requests",
            "GraphQL requests by operation name and outcome (ok, errors, refused).",
            ("operation", "outcome"),
            registry=registry,
        )
        self.graphql_duration = Histogram(
            "gateway_graphql_request_duration_seconds",
            "Time from the request's arrival to its last byte, by operation name.",
            ("operation",),
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.graphql_in_flight = Gauge(
            "gateway_graphql_requests_in_flight",
            "GraphQL requests being served now.",
            registry=registry,
        )
        self.upstream_calls = Counter(
            "gateway_upstream_calls",
            "Upstream HTTP calls by source, endpoint template, status and error code.",
            ("source", "method", "endpoint", "status_class", "status", "error"),
            registry=registry,
        )
        self.upstream_duration = Histogram(
            "gateway_upstream_call_duration_seconds",
            "Upstream HTTP call latency by source and endpoint template.",
            ("source", "method", "endpoint"),
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.batch_size = Histogram(
            "gateway_loader_batch_size",
            "Keys a request's loader was asked for in one loop turn, by source.",
            ("source",),
            buckets=BATCH_SIZE_BUCKETS,
            registry=registry,
        )
        registry.register(_SourceCollector(stats, adapters))
        if answers is not None:
            registry.register(_AnswerCacheCollector(answers))
        registry.register(_PauseCollector(PAUSES))
        if state is not None:
            registry.register(_StateCollector(state))
        ProcessCollector(registry=registry)

    def operation_label(self, name: str | None) -> str:
        """The operation's label value: bounded in length and in number of distinct values."""
        if name is None:
            return "unknown"
        if name == "anonymous":
            return name
        if len(name) > MAX_OPERATION_NAME_CHARS or not _GRAPHQL_NAME.match(name):
            return "other"
        if name not in self._operations:
            if len(self._operations) >= MAX_OPERATION_NAMES:
                return "other"
            self._operations.add(name)
        return name

    def request_started(self, record: RequestRecord) -> None:
        if record.path == GRAPHQL_PATH:
            self.graphql_in_flight.inc()

    def request_finished(self, record: RequestRecord) -> None:
        if record.path == GRAPHQL_PATH:
            self.graphql_in_flight.dec()
        if not record.is_graphql_request:
            return
        key = (self.operation_label(record.operation), record.outcome)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.graphql_requests.labels(*key),
                self.graphql_duration.labels(key[0]),
            )
            self._request_children[key] = children
        requests, duration = children
        requests.inc()
        duration.observe(record.duration_s)

    def observe_call(self, record: CallRecord) -> None:
        """A ``CallRecord`` observer for every source's HTTP engine.

        The labelled children are kept by their label values: ``labels()`` takes a lock and
        builds its key on every call, and this runs once per upstream call.
        """
        key = (record.source, record.method, record.template, record.status, record.error_code)
        children = self._call_children.get(key)
        if children is None:
            status = "none" if record.status is None else str(record.status)
            status_class = "none" if record.status is None else f"{status[0]}xx"
            children = (
                self.upstream_calls.labels(
                    record.source,
                    record.method,
                    record.template,
                    status_class,
                    status,
                    record.error_code or "none",
                ),
                self.upstream_duration.labels(record.source, record.method, record.template),
            )
            self._call_children[key] = children
        calls, duration = children
        calls.inc()
        duration.observe(record.duration_s)

    def observe_batch(self, source: str, size: int) -> None:
        """The loaders' batch hook (a few times per request, so its child is kept too)."""
        child = self._batch_children.get(source)
        if child is None:
            child = self._batch_children[source] = self.batch_size.labels(source)
        child.observe(size)

    async def endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    def app(self) -> Starlette:
        """``/metrics`` alone, for ``server.metrics = "port"``."""
        return Starlette(routes=[Route(METRICS_PATH, self.endpoint, methods=["GET"])])


class _SourceCollector:
    """Counters the sources keep anyway, and breaker states, read at scrape time."""

    def __init__(
        self, stats: Mapping[str, SourceStats], adapters: Mapping[str, SourceAdapter]
    ) -> None:
        self._stats = stats
        self._adapters = adapters

    def collect(self) -> Iterator[Metric]:
        hits = CounterMetricFamily(
            "gateway_cache_hits", "Execution cache hits, by source.", labels=("source",)
        )
        misses = CounterMetricFamily(
            "gateway_cache_misses", "Execution cache misses, by source.", labels=("source",)
        )
        joined = CounterMetricFamily(
            "gateway_singleflight_joins",
            "Cache misses that joined an upstream fetch already in flight, by source.",
            labels=("source",),
        )
        breaker = GaugeMetricFamily(
            "gateway_circuit_breaker_state",
            "Circuit breaker per source: 0 closed, 1 half-open, 2 open.",
            labels=("source",),
        )
        for name, stats in list(self._stats.items()):
            hits.add_metric((name,), stats.cache_hits)
            misses.add_metric((name,), stats.cache_misses)
            joined.add_metric((name,), stats.shared_fetches)
        for name, adapter in list(self._adapters.items()):
            state = getattr(adapter.http, "circuit_state", "closed")
            breaker.add_metric((name,), BREAKER_STATES.get(state, 0))
        yield from (hits, misses, joined, breaker)


class AnswerCacheCounts(Protocol):
    """What the response cache counts (``gateway.core.response_cache.CacheCounters``)."""

    hits: int
    misses: int
    stores: int
    evictions: int
    invalidations: int
    refused: int
    shared_hits: int
    shared_stores: int


class _AnswerCacheCollector:
    """The response cache's counters, read at scrape time."""

    def __init__(self, counts: AnswerCacheCounts) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        for name, help_text in (
            ("hits", "Answers served whole from the response cache."),
            ("misses", "Requests the response cache did not hold."),
            ("stores", "Answers kept by the response cache."),
            ("evictions", "Answers the response cache dropped for room."),
            ("invalidations", "Answers dropped because an execution they held changed."),
            ("refused", "Answers not kept: an execution they held changed while computed."),
            ("shared_hits", "Answers another replica shared through Redis, on a miss here."),
            ("shared_stores", "Answers this replica shared with the others through Redis."),
        ):
            family = CounterMetricFamily(f"gateway_response_cache_{name}", help_text)
            family.add_metric((), getattr(self._counts, name))
            yield family


class _PauseCollector:
    """Garbage-collection pauses by generation, as a histogram (zero until ``settle_heap``)."""

    def __init__(self, pauses: CollectorPauses) -> None:
        self._pauses = pauses

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            "gateway_gc_pause_seconds",
            "How long each garbage collection stopped the process, by generation.",
            labels=("generation",),
        )
        for generation in range(3):
            cumulative = [
                (str(bound), count)
                for bound, count in zip(
                    PAUSE_BUCKETS_S, self._pauses.buckets[generation], strict=True
                )
            ]
            cumulative.append(("+Inf", self._pauses.count[generation]))
            family.add_metric(
                (str(generation),), cumulative, sum_value=self._pauses.seconds[generation]
            )
        yield family


class StateHealth(Protocol):
    """What the shared state says of itself (``gateway.state.base.SharedState``)."""

    name: str
    bad_entries: collections.Counter[str]

    @property
    def available(self) -> bool: ...


class _StateCollector:
    def __init__(self, state: StateHealth) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "gateway_state_available",
            "1 while the shared state (memory, or Redis) answers; 0 while it is unreachable.",
            labels=("backend",),
        )
        family.add_metric((self._state.name,), 1 if self._state.available else 0)
        yield family
        bad = CounterMetricFamily(
            "gateway_state_bad_entries",
            "Entries read back from the shared state that the gateway did not write (planted, "
            "wrong kind of value, impossible bounds), by kind: dropped, never used.",
            labels=("kind",),
        )
        for kind, count in sorted(self._state.bad_entries.items()):
            bad.add_metric((kind,), count)
        yield bad
