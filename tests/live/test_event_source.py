"""SSE over GET, as EventSource sends it: a subscription in the URL, resumable with
Last-Event-ID; with API keys, a short-lived stream token in the URL instead of the key, good for
nothing else. Mutations over GET stay 405."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pytest

from gateway.http.auth import STREAM_TOKEN_TTL_S
from tests.live.support import live_gateway
from tests.live.test_resume import finish, running_orchestrations, subscribed

if TYPE_CHECKING:
    import httpx

    from sandbox import Sandbox

KEY = "event-source-test-key-0123456789"
AUTH = {
    "mode": "api_key",
    "clients": [{"name": "page", "key_env": "PAGE_KEY", "roles": ["viewer"]}],
}
QUERY = 'subscription { executionChanges(filter: {sources: ["tl"]}) { id status } }'
STREAM = {"accept": "text/event-stream"}


async def first_event(response: httpx.Response) -> dict[str, Any]:
    event: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if not line and "data" in event:
            return event
        name, _, value = line.partition(": ")
        if name in ("id", "event", "data"):
            event[name] = value
    raise AssertionError("the stream ended without an event")


async def mint(http: httpx.AsyncClient) -> dict[str, Any]:
    answer = await http.post("/graphql/stream-token", headers={"authorization": f"Bearer {KEY}"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    minted: dict[str, Any] = answer.json()
    return minted


async def test_a_get_subscription_streams_with_a_stream_token_and_resumes_by_last_event_id(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    async with live_gateway(sandbox, sandbox_url, env={"PAGE_KEY": KEY}, auth=AUTH) as live:
        runs = running_orchestrations(sandbox, 2)
        minted = await mint(live.http)
        assert time.time() < minted["expiresAt"] <= time.time() + STREAM_TOKEN_TTL_S + 1
        params = {"query": QUERY, "access_token": minted["token"]}
        async with live.http.stream("GET", "/graphql", params=params, headers=STREAM) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            await subscribed(live)
            await finish(live, runs[0])
            event = await first_event(response)
        payload = json.loads(event["data"])
        assert payload["data"]["executionChanges"]["id"] == f"tl:{runs[0]}"
        assert event["id"] == payload["extensions"]["position"]
        await finish(live, runs[1])
        resumed = {**STREAM, "last-event-id": event["id"]}  # what EventSource sends back
        async with live.http.stream("GET", "/graphql", params=params, headers=resumed) as response:
            again = json.loads((await first_event(response))["data"])
        assert again["data"]["executionChanges"]["id"] == f"tl:{runs[1]}"


async def test_stream_tokens_open_streams_only_and_expire(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    async with live_gateway(sandbox, sandbox_url, env={"PAGE_KEY": KEY}, auth=AUTH) as live:
        token = (await mint(live.http))["token"]
        query = {"query": "{ sources { name } }"}
        # Not a key: refused as a Bearer header, on a plain GET, and on POST.
        assert (
            await live.http.post(
                "/graphql", json=query, headers={"authorization": f"Bearer {token}"}
            )
        ).status_code == 401
        assert (
            await live.http.get("/graphql", params={**query, "access_token": token})
        ).status_code == 401
        # A key is never read from the URL, and a forged or expired token opens nothing.
        name, expires, signature = token.split(".")[1:]
        for wrong in (KEY, f"v1.{name}.{int(expires) + 600}.{signature}", "v1.x.1.y"):
            refused = await live.http.get(
                "/graphql", params={"query": QUERY, "access_token": wrong}, headers=STREAM
            )
            assert refused.status_code == 401, wrong
        assert (await live.http.post("/graphql/stream-token")).status_code == 401


async def test_over_get_a_subscription_needs_an_event_stream_and_a_mutation_stays_405(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    async with live_gateway(sandbox, sandbox_url) as live:
        plain = await live.http.get("/graphql", params={"query": QUERY})
        assert plain.status_code == 405
        mutation = 'mutation { approve(input: {approvalId: "rv:x"}) { __typename } }'
        streamed = await live.http.get("/graphql", params={"query": mutation}, headers=STREAM)
        assert streamed.status_code == 405
        assert streamed.headers["allow"] == "POST"


@pytest.mark.parametrize("method", ["GET", "PUT"])
async def test_the_token_endpoint_answers_post_only(
    sandbox: Sandbox, sandbox_url: str, method: str
) -> None:
    async with live_gateway(sandbox, sandbox_url, env={"PAGE_KEY": KEY}, auth=AUTH) as live:
        answer = await live.http.request(
            method, "/graphql/stream-token", headers={"authorization": f"Bearer {KEY}"}
        )
        assert answer.status_code == 405
