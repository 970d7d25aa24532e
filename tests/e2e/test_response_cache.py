"""Whole answers cached only when safe, served with ETags, and persisted queries: over real HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import TYPE_CHECKING, Any

import pytest

from sandbox import rotavision, truthlocks
from tests.serving import gateway_client, graphql, metric

if TYPE_CHECKING:
    import httpx

    from sandbox import Sandbox

pytestmark = pytest.mark.e2e

FINISHED = f"tl:{truthlocks.DEMO_COMPLETED_ID}"
WAITING = f"rv:{rotavision.DEMO_WAITING_ID}"
QUERY = "query One($id: ID!) { execution(id: $id) { id status steps { kind status } } }"


async def counter(client: httpx.AsyncClient, name: str) -> float:
    return await metric(client, f"gateway_response_cache_{name}_total")


async def test_a_finished_execution_is_answered_from_the_cache_the_second_time(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    first = await gateway.post("/graphql", json={"query": QUERY, "variables": {"id": FINISHED}})
    assert first.json()["data"]["execution"]["status"] == "COMPLETED"
    assert first.headers["cache-control"] == "public, max-age=300"
    hits = await counter(gateway, "hits")
    second = await gateway.post("/graphql", json={"query": QUERY, "variables": {"id": FINISHED}})
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["content-type"] == first.headers["content-type"]
    assert await counter(gateway, "hits") == hits + 1
    assert sandbox.stats.total == 1


async def test_an_execution_still_moving_is_never_cached(gateway: httpx.AsyncClient) -> None:
    for _ in range(2):
        answer = await gateway.post("/graphql", json={"query": QUERY, "variables": {"id": WAITING}})
        assert answer.json()["data"]["execution"]["status"] == "WAITING_FOR_APPROVAL"
        assert answer.headers["cache-control"] == "no-store"
    assert await counter(gateway, "hits") == 0
    assert await counter(gateway, "stores") == 0


@pytest.mark.parametrize(
    "query",
    [
        "query One($id: ID!) { execution(id: $id) { id source { stats { upstreamCalls } } } }",
        "query One($id: ID!) { execution(id: $id) { id } sources { name } }",
    ],
)
async def test_live_fields_next_to_a_finished_execution_are_never_cached(
    gateway: httpx.AsyncClient, query: str
) -> None:
    for _ in range(2):
        answer = await gateway.post(
            "/graphql", json={"query": query, "variables": {"id": FINISHED}}
        )
        assert "errors" not in answer.json()
        assert answer.headers["cache-control"] == "no-store"
    assert await counter(gateway, "stores") == 0


async def test_errors_and_partial_answers_are_never_cached(gateway: httpx.AsyncClient) -> None:
    query = "query Two($ids: [ID!]!) { executions(ids: $ids) { id status } }"
    variables = {"ids": [FINISHED, "rv:exec_missing"]}
    for _ in range(2):
        body = await graphql(gateway, query, variables)
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert await counter(gateway, "stores") == 0


async def test_get_answers_carry_an_etag_and_if_none_match_gets_304(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    params = {"query": QUERY, "variables": json.dumps({"id": FINISHED})}
    first = await gateway.get("/graphql", params=params)
    assert first.status_code == 200
    etag = first.headers["etag"]
    again = await gateway.get("/graphql", params=params, headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = await gateway.get("/graphql", params=params, headers={"if-none-match": '"nope"'})
    assert other.status_code == 200
    assert other.content == first.content
    assert sandbox.stats.total == 1  # both answers above came from one upstream read
    moving = {"query": QUERY, "variables": json.dumps({"id": WAITING})}
    live = await gateway.get("/graphql", params=moving)
    assert live.headers["cache-control"] == "no-store"
    revalidated = await gateway.get(
        "/graphql", params=moving, headers={"if-none-match": live.headers["etag"]}
    )
    assert revalidated.status_code == 304  # unchanged upstream: the same bytes, the same tag


async def test_callers_with_different_roles_never_share_an_answer(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    clients = [
        {"name": "a", "key_env": "KEY_A", "roles": ["viewer"]},
        {"name": "b", "key_env": "KEY_B", "roles": ["viewer", "approver"]},
    ]
    env = {"KEY_A": "a" * 32, "KEY_B": "b" * 32}
    async with gateway_client(
        sandbox_url, env=env, auth={"mode": "api_key", "clients": clients}
    ) as client:
        answers = []
        for key in ("a" * 32, "b" * 32, "a" * 32):
            response = await client.post(
                "/graphql",
                json={"query": QUERY, "variables": {"id": FINISHED}},
                headers={"authorization": f"Bearer {key}"},
            )
            answers.append(response)
        assert all(a.status_code == 200 for a in answers)
        assert answers[0].headers["cache-control"] == "private, max-age=300"
        assert "Authorization" in answers[0].headers["vary"]
        assert await counter(client, "stores") == 2  # one per visibility
        assert await counter(client, "hits") == 1  # the third request, same roles as the first


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(text: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(text)}}


async def test_automatic_persisted_queries_over_post_and_get(gateway: httpx.AsyncClient) -> None:
    unknown = await gateway.post(
        "/graphql", json={"variables": {"id": FINISHED}, "extensions": persisted(QUERY)}
    )
    error = unknown.json()["errors"][0]
    assert error["message"] == "PersistedQueryNotFound"
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    registered = await gateway.post(
        "/graphql",
        json={"query": QUERY, "variables": {"id": FINISHED}, "extensions": persisted(QUERY)},
    )
    assert registered.json()["data"]["execution"]["id"] == FINISHED
    by_hash = await gateway.get(
        "/graphql",
        params={
            "variables": json.dumps({"id": FINISHED}),
            "extensions": json.dumps(persisted(QUERY)),
        },
    )
    assert by_hash.status_code == 200
    assert by_hash.json()["data"]["execution"]["id"] == FINISHED
    mismatch = await gateway.post(
        "/graphql", json={"query": "{ __typename }", "extensions": persisted(QUERY)}
    )
    assert mismatch.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"


async def test_trusted_documents_run_only_what_is_listed(sandbox_url: str, tmp_path: Any) -> None:
    manifest = tmp_path / "trusted.json"
    manifest.write_text(json.dumps({sha(QUERY): QUERY}))
    async with gateway_client(
        sandbox_url, cache={"persisted_queries": "trusted", "trusted_documents": str(manifest)}
    ) as client:
        listed = await client.post(
            "/graphql", json={"variables": {"id": FINISHED}, "extensions": persisted(QUERY)}
        )
        assert listed.json()["data"]["execution"]["id"] == FINISHED
        unlisted = await graphql(client, "{ sources { name } }")
        assert unlisted["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_TRUSTED"


async def test_a_decision_never_leaves_a_stale_answer(gateway: httpx.AsyncClient) -> None:
    from tests.e2e.test_approvals import decide, pending_approval_id

    params = {"query": QUERY, "variables": json.dumps({"id": WAITING})}
    headers = {"accept": "application/json"}
    before = await gateway.get("/graphql", params=params, headers=headers)
    assert before.json()["data"]["execution"]["status"] == "WAITING_FOR_APPROVAL"
    approval_id = await pending_approval_id(gateway, WAITING)
    assert (await decide(gateway, "approve", approval_id, "ok"))["__typename"] == "DecisionSuccess"
    after = await gateway.get(
        "/graphql", params=params, headers={**headers, "if-none-match": before.headers["etag"]}
    )
    assert after.status_code == 200
    assert after.json()["data"]["execution"]["status"] == "COMPLETED"
    assert after.headers["etag"] != before.headers["etag"]
    # Now finished, the answer is kept; asking again is a hit with the new state, not the old one.
    again = await gateway.get("/graphql", params=params, headers=headers)
    assert again.content == after.content
    assert await counter(gateway, "hits") >= 1


async def test_a_webhook_never_leaves_a_stale_answer(sandbox: Sandbox, sandbox_url: str) -> None:
    from sandbox.webhooks import WebhookEvent
    from tests.live.support import eventually, live_gateway, send_webhook

    done = next(
        i for i, e in sandbox.rotavision.executions.items() if e.get("status") == "completed"
    )
    query = "query One($id: ID!) { execution(id: $id) { id status outputs } }"
    body = {"query": query, "variables": {"id": f"rv:{done}"}}
    async with live_gateway(sandbox, sandbox_url) as live:
        first = await live.http.post("/graphql", json=body)
        assert first.headers["cache-control"].endswith("max-age=300")
        assert (await live.http.post("/graphql", json=body)).content == first.content
        # The upstream corrects a finished run (it happens: a late output, a fixed record) and
        # says so by webhook; the cached answer must not outlive that.
        sandbox.rotavision.executions[done]["outputs"] = {"corrected": True}
        event = WebhookEvent("rotavision", done, "workflow.completed")
        assert (await send_webhook(live, event)).json() == {"outcome": "accepted"}
        await eventually(lambda: not live.hub._refreshing, what="the re-read")
        fresh = await live.http.post("/graphql", json=body)
        assert fresh.json()["data"]["execution"]["outputs"] == {"corrected": True}
        assert fresh.headers["etag"] != first.headers["etag"]


async def test_an_answer_computed_across_a_webhook_for_its_execution_is_not_kept(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    from sandbox.webhooks import WebhookEvent
    from tests.live.support import eventually, live_gateway, send_webhook

    done = next(
        i for i, e in sandbox.rotavision.executions.items() if e.get("status") == "completed"
    )
    body = {"query": QUERY, "variables": {"id": f"rv:{done}"}}
    sandbox.faults.update({"latency_ms": 300, "only": "GET /v1/orchestrate/executions/"})
    async with live_gateway(sandbox, sandbox_url) as live:
        asked = asyncio.ensure_future(live.http.post("/graphql", json=body))
        await eventually(lambda: sandbox.stats.in_flight == 1, what="the read in flight")
        # The execution changes while the answer is being computed from the earlier read.
        event = WebhookEvent("rotavision", done, "workflow.completed")
        assert (await send_webhook(live, event)).json() == {"outcome": "accepted"}
        first = await asked
        assert first.status_code == 200
        assert await counter(live.http, "refused") == 1
        assert await counter(live.http, "stores") == 0
        await eventually(lambda: not live.hub._refreshing, what="the re-read")
        again = await live.http.post("/graphql", json=body)
        assert again.json() == first.json()
        assert await counter(live.http, "stores") == 1


async def test_a_federated_subgraph_caches_a_finished_execution_too(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    """Its printed SDL drops the directives that declare what may be cached; the verdict reads
    the served schema, so a subgraph caches what the plain gateway caches."""
    async with gateway_client(sandbox_url, server={"federation": True}) as gateway:
        request = {"query": QUERY, "variables": {"id": FINISHED}}
        first = await gateway.post("/graphql", json=request)
        assert first.headers["cache-control"] == "public, max-age=300"
        second = await gateway.post("/graphql", json=request)
    assert second.content == first.content
    assert sandbox.stats.total == 1
