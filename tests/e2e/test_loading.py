"""Loaders and the cache, proved by the sandbox's own counters (never by a stopwatch).

One upstream call per distinct execution per query; none for what is cached; concurrent misses
share one call; the fan-out reaches the upstream concurrently.
"""

from __future__ import annotations

import asyncio
import gc
from typing import TYPE_CHECKING

import pytest

from adapters import model
from gateway.schema.context import Context
from sandbox import rotavision
from sandbox.nesting import DEMO_TREE_ID
from tests.conftest import FAST_PATHS
from tests.serving import gateway_client, graphql

if TYPE_CHECKING:
    import httpx

    from sandbox import Sandbox

pytestmark = pytest.mark.e2e

ROTAVISION_GET = "GET /v1/orchestrate/executions/{execution_id}"
NESTINGS = "GET /api/v1/executions/nestings"


def distinct_ids(sandbox: Sandbox, count: int) -> list[str]:
    """``count`` global ids spread over the configured kinds."""
    pools = [
        [f"rv:{i}" for i in sandbox.rotavision.executions],
        [f"tl:{i}" for i in sandbox.truthlocks.orchestrations],
        [f"zaia:{i}" for i in sandbox.nesting.executions],
    ]
    if hasattr(sandbox, "velt"):
        pools.append([f"velt:{i}" for i in sandbox.velt.executions])
    ids: list[str] = []
    while len(ids) < count:
        for pool in pools:
            if len(ids) < count:
                ids.append(pool[len(ids) // len(pools)])
    return ids


async def test_twenty_distinct_ids_cost_twenty_calls(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    ids = distinct_ids(sandbox, 20)
    body = await graphql(
        gateway, "query ($ids: [ID!]!) { executions(ids: $ids) { id status } }", {"ids": ids}
    )
    assert "errors" not in body
    assert [e["id"] for e in body["data"]["executions"]] == ids
    assert sandbox.stats.total == 20


async def test_one_id_under_five_aliases_costs_one_call(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    query = (
        "{ "
        + " ".join(f'a{n}: execution(id: "rv:exec_xyz789") {{ status }}' for n in range(5))
        + " }"
    )
    body = await graphql(gateway, query)
    assert "errors" not in body
    assert sandbox.stats.calls[ROTAVISION_GET] == 1
    assert sandbox.stats.total == 1


async def test_ids_repeated_in_one_list_cost_one_call_each(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    ids = ["rv:exec_wait0001", "rv:exec_wait0001", "rv:exec_xyz789", "rv:exec_wait0001"]
    body = await graphql(
        gateway, "query ($ids: [ID!]!) { executions(ids: $ids) { id } }", {"ids": ids}
    )
    assert [e["id"] for e in body["data"]["executions"]] == ids
    assert sandbox.stats.total == 2


async def test_children_of_a_tree_cost_one_nestings_call(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    query = """query ($id: ID!) { execution(id: $id) {
        id children { id steps { kind } children { id status steps { kind } parent { id } } parent { id } } } }"""
    body = await graphql(gateway, query, {"id": f"zaia:{DEMO_TREE_ID}"})
    assert "errors" not in body
    children = body["data"]["execution"]["children"]
    assert len(children) >= 2
    assert any(c["children"] for c in children), "the demo tree is three levels deep"
    assert sandbox.stats.calls == {NESTINGS: 1}


async def test_a_finished_execution_is_not_fetched_twice(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    query = '{ execution(id: "rv:exec_xyz789") { status } }'
    first = await graphql(gateway, query)
    assert first["data"]["execution"]["status"] == "COMPLETED"
    second = await graphql(gateway, query)
    assert second == first
    assert sandbox.stats.total == 1


async def test_a_running_execution_is_cached_within_its_ttl(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    """Expiry itself is tested with the store's clock (tests/gateway/core/test_store.py)."""
    waiting = f"rv:{rotavision.DEMO_WAITING_ID}"
    query = f'{{ execution(id: "{waiting}") {{ status }} }}'
    async with gateway_client(sandbox_url, cache={"active_ttl_s": 3600}) as client:
        for _ in range(3):
            body = await graphql(client, query)
            assert body["data"]["execution"]["status"] == "WAITING_FOR_APPROVAL"
    assert sandbox.stats.total == 1


async def test_active_ttl_zero_disables_caching(sandbox_url: str, sandbox: Sandbox) -> None:
    query = f'{{ execution(id: "rv:{rotavision.DEMO_WAITING_ID}") {{ status }} }}'
    async with gateway_client(sandbox_url, cache={"active_ttl_s": 0}) as client:
        for _ in range(3):
            await graphql(client, query)
    assert sandbox.stats.total == 3


async def test_source_ttl_override_applies_to_finished_executions(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    query = '{ execution(id: "rv:exec_xyz789") { status } }'
    async with gateway_client(sandbox_url, sources={"rv": {"cache_ttl_s": 0}}) as client:
        await graphql(client, query)
        await graphql(client, query)
    assert sandbox.stats.total == 2


async def test_an_upstream_error_is_not_cached(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    query = '{ execution(id: "rv:exec_xyz789") { status } }'
    sandbox.faults.update({"fail_rate": 1.0})
    failed = await graphql(gateway, query)
    assert failed["data"]["execution"] is None
    assert failed["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    sandbox.faults.update({"fail_rate": 0.0})
    calls_while_failing = sandbox.stats.total
    recovered = await graphql(gateway, query)
    assert recovered["data"]["execution"]["status"] == "COMPLETED"
    assert sandbox.stats.total == calls_while_failing + 1


async def test_fifty_concurrent_requests_for_one_id_share_one_call(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.faults.update({"latency_ms": 100})
    query = '{ execution(id: "rv:exec_xyz789") { status } }'
    bodies = await asyncio.gather(*(graphql(gateway, query) for _ in range(50)))
    assert all(b == {"data": {"execution": {"status": "COMPLETED"}}} for b in bodies)
    assert sandbox.stats.total == 1


async def test_the_fan_out_reaches_the_upstream_concurrently(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.faults.update({"latency_ms": 100})
    ids = [f"rv:{i}" for i in list(sandbox.rotavision.executions)[:20]]
    body = await graphql(
        gateway, "query ($ids: [ID!]!) { executions(ids: $ids) { id } }", {"ids": ids}
    )
    assert "errors" not in body
    assert sandbox.stats.total == 20
    assert sandbox.stats.max_in_flight == 20


async def test_sources_report_cache_and_batch_counters(sandbox_url: str, sandbox: Sandbox) -> None:
    ids = [f"rv:{i}" for i in list(sandbox.rotavision.executions)[:5]]
    query = "query ($ids: [ID!]!) { executions(ids: $ids) { id } }"
    async with gateway_client(sandbox_url, cache={"active_ttl_s": 60}) as client:
        await graphql(client, query, {"ids": ids})
        await graphql(client, query, {"ids": ids})
        body = await graphql(
            client,
            "{ sources { name stats { upstreamCalls cacheHits cacheMisses batches maxBatchSize } } }",
        )
    stats = next(s["stats"] for s in body["data"]["sources"] if s["name"] == "rv")
    assert stats == {
        "upstreamCalls": 5,
        "cacheHits": 5,
        "cacheMisses": 5,
        "batches": 2,
        "maxBatchSize": 5,
    }
    assert sandbox.stats.total == 5


async def test_rotavision_step_kinds_come_from_one_cached_call_per_workflow(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    native_ids = [i for i, e in sandbox.rotavision.executions.items() if e.get("steps")][:12]
    ids = [f"rv:{i}" for i in native_ids]
    workflows = {sandbox.rotavision.executions[i]["workflow_id"] for i in native_ids}
    query = "query ($ids: [ID!]!) { executions(ids: $ids) { steps { kind upstreamKind } } }"
    definition_calls = "GET /v1/orchestrate/workflows/{workflow_id}"
    async with gateway_client(
        sandbox_url, sources={"rv": {"step_kinds_from_workflow": True}}
    ) as client:
        body = await graphql(client, query, {"ids": ids})
        first_round = sandbox.stats.calls[definition_calls]
        await graphql(client, query, {"ids": ids})
    kinds = {s["kind"] for e in body["data"]["executions"] for s in e["steps"]}
    assert "UNKNOWN" not in kinds
    assert kinds <= {"AGENT", "SEARCH", "CODE", "HUMAN_APPROVAL"}
    assert 1 <= first_round <= len(workflows)
    assert sandbox.stats.calls[definition_calls] == first_round  # the second round asked none


def live_executions() -> int:
    """Parsed executions still alive, found through the collector's own list of objects."""
    return sum(1 for o in gc.get_objects() if isinstance(o, model.Execution))


async def test_a_request_frees_what_it_loaded_without_the_cycle_collector(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    """With the cache off, nothing should keep a request's executions once it is answered.
    graphql-core's execution context is a reference cycle holding the request's context, so
    the gateway releases the loaders itself; were it not to, every execution of the 20 would
    stay alive until the cyclic collector ran (here: never, it is off)."""
    ids = distinct_ids(sandbox, 20)
    query = "query ($ids: [ID!]!) { executions(ids: $ids) { id status steps { kind } } }"
    async with gateway_client(sandbox_url, cache={"terminal_ttl_s": 0, "active_ttl_s": 0}) as gw:
        assert "errors" not in await graphql(gw, query, {"ids": ids})
        gc.collect()
        gc.disable()
        try:
            before = live_executions()
            for _ in range(3):
                body = await graphql(gw, query, {"ids": ids})
                assert "errors" not in body
                assert len(body["data"]["executions"]) == 20
            after = live_executions()
        finally:
            gc.enable()
    assert sandbox.stats.total == 4 * 20
    assert after == before


def live_contexts() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, Context))


@pytest.mark.skipif(
    not FAST_PATHS,
    reason="without the speed work (fast paths off), graphql-core's own code keeps a request alive until the cycle collector runs",
)
async def test_a_request_context_is_freed_without_the_cycle_collector(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    """graphql-core's execution context holds its resolve-info helpers, bound methods of itself:
    a cycle that kept each request's context (and all it loaded) for the collector. The speed
    work's execution context reaches itself weakly there (gateway/schema/speed/executor.py)."""
    ids = distinct_ids(sandbox, 5)
    query = "query ($ids: [ID!]!) { executions(ids: $ids) { id status steps { kind } } }"
    async with gateway_client(sandbox_url) as gw:
        assert "errors" not in await graphql(gw, query, {"ids": ids})
        gc.collect()
        gc.disable()
        try:
            before = live_contexts()
            for _ in range(3):
                assert "errors" not in await graphql(gw, query, {"ids": ids})
            after = live_contexts()
        finally:
            gc.enable()
    assert after == before
