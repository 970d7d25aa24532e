"""/metrics moves as queries run, with bounded labels, and appears only where the config says."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.core.runtime import Runtime
from gateway.demo import DEMO_EXECUTION_ID, demo_config
from gateway.http.app import create_app
from gateway.ops.metrics import MAX_OPERATION_NAMES, GatewayMetrics
from tests.ops.helpers import build, client_for
from tests.serving import graphql

if TYPE_CHECKING:
    from prometheus_client.samples import Sample

pytestmark = pytest.mark.e2e

NAMED = f'query GetOne {{ execution(id: "{DEMO_EXECUTION_ID}") {{ status }} }}'
MISSING = '{ execution(id: "rv:exec_missing") { status } }'


def samples(text: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(text: str, name: str, **labels: str) -> float:
    """The one sample called ``name`` whose labels include ``labels`` (0 when there is none)."""
    found = [
        s.value
        for s in samples(text)
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) <= 1, f"{name}{labels}: {len(found)} samples"
    return found[0] if found else 0.0


async def test_metrics_move_as_queries_run(sandbox_url: str) -> None:
    async with client_for(build(sandbox_url)) as client:
        for _ in range(2):
            body = await graphql(client, NAMED)
            assert "errors" not in body
        assert (await graphql(client, MISSING))["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert (await graphql(client, "{ execution(")).get("errors")
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text

    requests = "gateway_graphql_requests_total"
    assert value(text, requests, operation="GetOne", outcome="ok") == 2
    assert value(text, requests, operation="anonymous", outcome="errors") == 1
    assert value(text, requests, operation="unknown", outcome="refused") == 1
    assert value(text, "gateway_graphql_request_duration_seconds_count", operation="GetOne") == 2
    assert value(text, "gateway_graphql_requests_in_flight") == 0

    endpoint = "/v1/orchestrate/executions/{}"
    calls = "gateway_upstream_calls_total"
    assert value(text, calls, source="rv", endpoint=endpoint, status="200", status_class="2xx") >= 1
    assert value(text, calls, source="rv", status="404", error="NOT_FOUND") == 1
    assert value(text, "gateway_upstream_call_duration_seconds_count", source="rv") >= 2
    assert value(text, "gateway_loader_batch_size_count", source="rv") == 3
    assert value(text, "gateway_cache_misses_total", source="rv") >= 2
    assert value(text, "gateway_circuit_breaker_state", source="rv") == 0
    # Bounded labels: no native id and no raw path in any label value.
    for sample in samples(text):
        for label in sample.labels.values():
            assert "exec_" not in label, sample


async def test_cache_hits_are_counted_per_source(sandbox_url: str) -> None:
    async with client_for(build(sandbox_url, cache={"active_ttl_s": 60.0})) as client:
        for _ in range(3):
            await graphql(client, NAMED)
        text = (await client.get("/metrics")).text
    assert value(text, "gateway_cache_misses_total", source="rv") == 1
    assert value(text, "gateway_cache_hits_total", source="rv") == 2
    assert value(text, "gateway_upstream_calls_total", source="rv", status="200") == 1


def test_operation_labels_are_bounded() -> None:
    runtime = Runtime(demo_config("http://127.0.0.1:9"))
    metrics = GatewayMetrics(runtime.stats, runtime.adapters)
    assert metrics.operation_label(None) == "unknown"
    assert metrics.operation_label("anonymous") == "anonymous"
    assert metrics.operation_label("x" * 65) == "other"
    assert metrics.operation_label("not a name") == "other"
    for index in range(MAX_OPERATION_NAMES):
        assert metrics.operation_label(f"Op{index}") == f"Op{index}"
    assert metrics.operation_label("OneTooMany") == "other"
    assert metrics.operation_label("Op0") == "Op0", "names already seen keep their label"


async def test_metrics_off_serves_no_route(sandbox_url: str) -> None:
    async with client_for(build(sandbox_url, server={"metrics": "off"})) as client:
        assert (await client.get("/metrics")).status_code == 404
        await graphql(client, NAMED)


async def test_metrics_port_mode_serves_them_on_their_own_app(sandbox_url: str) -> None:
    app = build(sandbox_url, server={"metrics": "port"})
    async with client_for(app) as client:
        assert (await client.get("/metrics")).status_code == 404
        await graphql(client, NAMED)
        transport = httpx.ASGITransport(app=app.state.metrics.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as scraper:
            text = (await scraper.get("/metrics")).text
    assert value(text, "gateway_graphql_requests_total", operation="GetOne", outcome="ok") == 1


def test_two_apps_keep_separate_registries() -> None:
    config = demo_config("http://127.0.0.1:9")
    first, second = create_app(config), create_app(config)
    assert first.state.metrics.registry is not second.state.metrics.registry
