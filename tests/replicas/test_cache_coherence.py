"""What one replica learns changed is forgotten by every replica: a webhook or a decision taken on
one leaves no stale execution or whole answer on the other, well before any TTL runs out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from sandbox import rotavision
from sandbox.webhooks import WebhookEvent
from tests.live.support import eventually, live_gateway, send_webhook, until
from tests.replicas.test_live_replicas import shared, two_replicas
from tests.serving import metric

if TYPE_CHECKING:
    import httpx

    from sandbox import Sandbox
    from tests.live.support import Live
    from tests.redis_server import RedisServer

pytestmark = pytest.mark.e2e

QUERY = "query One($id: ID!) { execution(id: $id) { id status outputs } }"


def finished_rotavision(sandbox: Sandbox) -> str:
    return next(
        i for i, e in sandbox.rotavision.executions.items() if e.get("status") == "completed"
    )


async def answered(client: httpx.AsyncClient, native: str) -> httpx.Response:
    response = await client.post(
        "/graphql", json={"query": QUERY, "variables": {"id": f"rv:{native}"}}
    )
    assert response.status_code == 200
    return response


async def until_fresh(replica: Live, native: str, tries: int = 200) -> dict[str, Any]:
    """The replica's answer once it shows the correction (bounded: seconds, not a TTL)."""
    seen: dict[str, Any] = {}

    async def corrected() -> bool:
        seen.update((await answered(replica.http, native)).json()["data"]["execution"])
        return bool(seen["outputs"] == {"corrected": True})

    await until(corrected, what="the other replica serving the correction", tries=tries)
    return seen


async def test_a_webhook_to_one_replica_leaves_no_stale_answer_on_the_other(
    sandbox: Sandbox, sandbox_url: str, redis_server: RedisServer
) -> None:
    native = finished_rotavision(sandbox)
    async with two_replicas(sandbox, sandbox_url, redis_server.url) as (a, b):
        # Both replicas hold the finished execution and its whole answer (kept for 300 s).
        on_b = await answered(b.http, native)
        assert on_b.headers["cache-control"].endswith("max-age=300")
        assert (await answered(b.http, native)).content == on_b.content
        await answered(a.http, native)
        reads = a.reads("rotavision")
        # The upstream corrects the finished run and tells replica A by webhook.
        sandbox.rotavision.executions[native]["outputs"] = {"corrected": True}
        event = WebhookEvent("rotavision", native, "workflow.completed")
        assert (await send_webhook(a, event)).json() == {"outcome": "accepted"}
        await eventually(lambda: not a.hub._refreshing, what="A's re-read")
        fresh = await until_fresh(b, native)
        assert fresh["status"] == "COMPLETED"
        # A read the correction once; B's fresh answer came from what A shared, not another read.
        assert a.reads("rotavision") == reads + 1


async def test_a_decision_on_one_replica_leaves_no_stale_answer_on_the_other(
    sandbox: Sandbox, sandbox_url: str, redis_server: RedisServer
) -> None:
    from tests.e2e.test_approvals import decide, pending_approval_id

    # Executions still running are kept for 10 minutes here, so only the announcement can
    # make B read again within the test.
    sections = {**shared(redis_server.url), "cache": {"active_ttl_s": 600}}
    async with (
        live_gateway(sandbox, sandbox_url, **sections) as a,
        live_gateway(sandbox, sandbox_url, **sections) as b,
    ):
        waiting = rotavision.DEMO_WAITING_ID
        status = "query S($id: ID!) { execution(id: $id) { status } }"
        body = {"query": status, "variables": {"id": f"rv:{waiting}"}}
        seen = (await b.http.post("/graphql", json=body)).json()["data"]["execution"]["status"]
        assert seen == "WAITING_FOR_APPROVAL"
        approval_id = await pending_approval_id(a.http, f"rv:{waiting}")
        decided = await decide(a.http, "approve", approval_id, "ok")
        assert decided["__typename"] == "DecisionSuccess"

        # B drops what it held as soon as A's announcement arrives, long before its TTL.
        async def completed() -> bool:
            after = (await b.http.post("/graphql", json=body)).json()["data"]["execution"]
            return bool(after["status"] == "COMPLETED")

        await until(completed, what="B answering the decided execution", tries=300)
        assert await metric(b.http, "gateway_cache_changes_heard_total") >= 1


async def test_a_replica_whose_redis_subscription_came_back_forgets_what_it_cached(
    sandbox: Sandbox, sandbox_url: str, redis_server: RedisServer
) -> None:
    native = finished_rotavision(sandbox)
    async with two_replicas(sandbox, sandbox_url, redis_server.url) as (a, _):
        await answered(a.http, native)
        await answered(a.http, native)
        reads = a.reads("rotavision")
        redis_server.stop()
        redis_server.start()

        # Announcements may have been lost while it was away: everything it held is dropped.
        async def forgot() -> bool:
            return await metric(a.http, "gateway_cache_forgot_everything_total") >= 1

        await until(forgot, what="the replica noticing its subscription come back", tries=1000)
        await answered(a.http, native)
        assert a.reads("rotavision") == reads + 1


async def test_a_change_learnt_by_a_replica_cut_off_from_redis_reaches_the_others_once_it_is_back(
    sandbox: Sandbox, sandbox_url: str, redis_server: RedisServer
) -> None:
    from tests.replicas.link import link_to

    native = finished_rotavision(sandbox)
    async with (
        link_to(redis_server.url) as (link, linked_url),
        live_gateway(sandbox, sandbox_url, **shared(linked_url)) as a,
        live_gateway(sandbox, sandbox_url, **shared(redis_server.url)) as b,
    ):
        await answered(b.http, native)
        await answered(a.http, native)
        await link.cut()  # A alone loses Redis; B keeps it
        sandbox.rotavision.executions[native]["outputs"] = {"corrected": True}
        event = WebhookEvent("rotavision", native, "workflow.completed")
        assert (await send_webhook(a, event)).json() == {"outcome": "accepted"}
        await eventually(lambda: not a.hub._refreshing, what="A's re-read")
        assert (await until_fresh(a, native))["outputs"] == {"corrected": True}
        # B cannot know yet: A could not tell Redis or announce it.
        stale = (await answered(b.http, native)).json()["data"]["execution"]
        assert stale["outputs"] != {"corrected": True}
        await link.open()
        # A sends what it kept once Redis answers again; B drops its copy and answers fresh.
        assert (await until_fresh(b, native, tries=1000))["outputs"] == {"corrected": True}
