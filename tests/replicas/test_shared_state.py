"""Two gateway replicas sharing one real Redis behave as one gateway: one cache, secrets checked,
Redis going away a fault they ride out."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from gateway.config import ConfigError
from gateway.http.app import create_app
from sandbox import truthlocks
from tests.serving import demo_config_with, graphql, serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sandbox import Sandbox
    from tests.redis_server import RedisServer

pytestmark = pytest.mark.e2e

FINISHED = f"tl:{truthlocks.DEMO_COMPLETED_ID}"
QUERY = "query One($id: ID!) { execution(id: $id) { id status } }"
SECRET = "s" * 40


@contextlib.asynccontextmanager
async def replica(
    sandbox_url: str, redis_url: str, secret: str = SECRET, **sections: Any
) -> AsyncIterator[httpx.AsyncClient]:
    env = {"REDIS_URL": redis_url, "CURSOR_SECRET": secret}
    config = demo_config_with(
        sandbox_url,
        env,
        state={"backend": "redis", "redis_url_env": "REDIS_URL", "timeout_s": 2.0},
        server={"cursor_secret_env": "CURSOR_SECRET"},
        # The whole-answer cache is off here, so reads reach the execution store.
        cache={"answers_max_entries": 0},
        **sections,
    )
    async with (
        serving(create_app(config)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield client


async def test_a_finished_execution_read_on_one_replica_costs_no_call_on_the_other(
    sandbox_url: str, sandbox: Sandbox, redis_server: RedisServer
) -> None:
    async with (
        replica(sandbox_url, redis_server.url) as a,
        replica(sandbox_url, redis_server.url) as b,
    ):
        first = await graphql(a, QUERY, {"id": FINISHED})
        assert first["data"]["execution"]["status"] == "COMPLETED"
        assert sandbox.stats.total == 1
        second = await graphql(b, QUERY, {"id": FINISHED})
        assert second == first
        assert sandbox.stats.total == 1
        stats = await graphql(b, "{ sources { name stats { upstreamCalls } } }")
        tl = next(s for s in stats["data"]["sources"] if s["name"] == "tl")
        assert tl["stats"]["upstreamCalls"] == 0


async def test_a_cursor_signed_on_one_replica_reads_on_the_other(
    sandbox_url: str, redis_server: RedisServer
) -> None:
    feed = "query Feed($after: String) { executionFeed(first: 2, after: $after) { pageInfo { endCursor } edges { node { id } } } }"
    async with (
        replica(sandbox_url, redis_server.url) as a,
        replica(sandbox_url, redis_server.url) as b,
    ):
        page = await graphql(a, feed)
        cursor = page["data"]["executionFeed"]["pageInfo"]["endCursor"]
        following = await graphql(b, feed, {"after": cursor})
        assert "errors" not in following
        assert following["data"]["executionFeed"]["edges"]


async def test_a_replica_with_another_cursor_secret_refuses_to_start(
    sandbox_url: str, redis_server: RedisServer
) -> None:
    async with replica(sandbox_url, redis_server.url):
        config = demo_config_with(
            sandbox_url,
            {"REDIS_URL": redis_server.url, "CURSOR_SECRET": "t" * 40},
            state={"backend": "redis", "redis_url_env": "REDIS_URL"},
            server={"cursor_secret_env": "CURSOR_SECRET"},
        )
        app = create_app(config)
        with pytest.raises(ConfigError, match=r"server\.cursor_secret differs"):
            async with app.router.lifespan_context(app):
                pass


def test_redis_without_a_shared_cursor_secret_is_a_config_error(sandbox_url: str) -> None:
    with pytest.raises(ConfigError, match="cursor_secret_env"):
        demo_config_with(
            sandbox_url,
            {"REDIS_URL": "redis://127.0.0.1:1/0"},
            state={"backend": "redis", "redis_url_env": "REDIS_URL"},
        )


async def test_redis_going_away_keeps_reads_answering_and_both_replicas_recover(
    sandbox_url: str, sandbox: Sandbox, redis_server: RedisServer
) -> None:
    async with (
        replica(sandbox_url, redis_server.url) as a,
        replica(sandbox_url, redis_server.url) as b,
    ):
        assert (await a.get("/readyz")).status_code == 200
        redis_server.stop()
        for client in (a, b):
            answer = await graphql(client, QUERY, {"id": FINISHED})
            assert answer["data"]["execution"]["status"] == "COMPLETED"
        ready = await a.get("/readyz")
        assert ready.status_code == 503
        assert "state" in ready.json()["sources"]
        metrics = (await a.get("/metrics")).text
        assert 'gateway_state_available{backend="redis"} 0.0' in metrics
        redis_server.start()
        for client in (a, b):
            recovered = await client.get("/readyz")
            assert recovered.status_code == 200, recovered.text
        metrics = (await b.get("/metrics")).text
        assert 'gateway_state_available{backend="redis"} 1.0' in metrics


async def test_requests_spread_over_both_replicas_are_limited_as_one_client(
    sandbox_url: str, redis_server: RedisServer
) -> None:
    limit = {"requests_per_s": 0.01, "burst": 6}
    async with (
        replica(sandbox_url, redis_server.url, rate_limit=limit) as a,
        replica(sandbox_url, redis_server.url, rate_limit=limit) as b,
    ):
        statuses = []
        for n in range(10):
            response = await (a if n % 2 else b).post("/graphql", json={"query": "{ __typename }"})
            statuses.append(response.status_code)
        assert statuses.count(200) == 6
        assert statuses[6:] == [429] * 4
        refused = await a.post("/graphql", json={"query": "{ __typename }"})
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert int(refused.headers["retry-after"]) >= 1


async def test_fifty_identical_approves_over_both_replicas_send_one_post(
    sandbox_url: str, sandbox: Sandbox, redis_server: RedisServer
) -> None:
    from sandbox import rotavision
    from tests.e2e.test_approvals import APPROVE_POST, decide, pending_approval_id

    async with (
        replica(sandbox_url, redis_server.url) as a,
        replica(sandbox_url, redis_server.url) as b,
    ):
        approval_id = await pending_approval_id(a, f"rv:{rotavision.DEMO_WAITING_ID}")
        sandbox.faults.update({"latency_ms": 50})
        results = await asyncio.gather(
            *(decide(a if n % 2 else b, "approve", approval_id, "ok") for n in range(50))
        )
        kinds = {r["__typename"] for r in results}
        assert kinds <= {"DecisionSuccess", "ApprovalNotWaiting"}, results
        assert "DecisionSuccess" in kinds
        assert sandbox.stats.calls[APPROVE_POST] == 1
        # Both replicas now read the decided approval: nothing reported done that was not.
        for client in (a, b):
            again = await decide(client, "approve", approval_id, "ok")
            assert again["__typename"] in {"DecisionSuccess", "ApprovalNotWaiting"}
        assert sandbox.stats.calls[APPROVE_POST] == 1


async def test_with_redis_away_a_decision_still_goes_upstream_once_per_replica_keyed(
    sandbox_url: str, sandbox: Sandbox, redis_server: RedisServer
) -> None:
    from sandbox import rotavision
    from tests.e2e.test_approvals import APPROVE_POST, decide, pending_approval_id

    async with replica(sandbox_url, redis_server.url) as a:
        approval_id = await pending_approval_id(a, f"rv:{rotavision.DEMO_WAITING_ID}")
        redis_server.stop()
        result = await decide(a, "approve", approval_id, "ok")
        assert result["__typename"] == "DecisionSuccess"
        assert result["approval"]["status"] == "APPROVED"
        assert sandbox.stats.calls[APPROVE_POST] == 1
