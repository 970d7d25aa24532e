"""Multipart subscriptions (Apollo Client over HTTP), and approvals announced by Velt webhooks."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import TYPE_CHECKING

import pytest
from websockets.exceptions import ConnectionClosed

from sandbox.progress import Progress
from sandbox.velt import DEMO_WAITING_ID
from sandbox.webhooks import WebhookEvent
from tests.live.support import TransportWS, eventually, live_gateway, running_id, send_webhook

if TYPE_CHECKING:
    from sandbox import Sandbox
    from tests.live.support import Live

pytestmark = pytest.mark.e2e

MULTIPART = 'multipart/mixed;subscriptionSpec="1.0", application/json'


async def test_multipart_subscriptions_stream_state_then_change(live: Live) -> None:
    native = running_id(live.sandbox, "truthlocks")
    query = "subscription($id: ID!) { executionChanged(id: $id) { status } }"
    body = {"query": query, "variables": {"id": f"tl:{native}"}}
    payloads: list[dict[str, object]] = []
    async with live.http.stream(
        "POST", "/graphql", json=body, headers={"accept": MULTIPART}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("multipart/mixed")
        async for line in response.aiter_lines():
            if not line.startswith("{"):
                continue
            part = json.loads(line)
            if "payload" not in part:  # a heartbeat: {}
                continue
            payloads.append(part["payload"])
            if len(payloads) == 1:
                assert Progress(live.sandbox).finish("truthlocks", native)
                await send_webhook(
                    live, WebhookEvent("truthlocks", native, "orchestration.completed")
                )
            if len(payloads) == 2:
                break
    statuses = [p["data"]["executionChanged"]["status"] for p in payloads]  # type: ignore[index]
    assert statuses == ["RUNNING", "COMPLETED"]


async def test_a_velt_awaiting_approval_event_announces_the_approval_once(live: Live) -> None:
    query = 'subscription { approvalRequested(sources: ["velt"]) { status step { nativeId } } }'
    async with TransportWS.open(live.ws_url) as client:
        await client.subscribe("a", query)
        await eventually(lambda: live.hub.bus.subscribers("approvals") == 1)  # type: ignore[attr-defined]
        event = WebhookEvent("velt", DEMO_WAITING_ID, "step.awaiting-approval")
        assert (await send_webhook(live, event)).status_code == 202
        message = await client.receive()
        approval = message["payload"]["data"]["approvalRequested"]
        assert approval["status"] == "PENDING"
        # Another event for the same run re-reads it, but the approval is not announced again.
        assert (await send_webhook(live, event)).status_code == 202
        await eventually(lambda: live.hub.stats.refreshes == 2 and not live.hub._refreshing)
        assert live.hub.stats.approvals_announced == 1
    assert live.clock.sleepers == 0  # Velt with a secret is not polled


async def test_a_decision_through_the_gateway_reaches_subscribers_without_webhook_or_poll(
    live: Live,
) -> None:
    from tests.serving import graphql

    query = (
        'subscription { executionChanged(id: "rv:exec_wait0001") { status approvals { status } } }'
    )
    async with TransportWS.open(live.ws_url) as client:
        await client.subscribe("1", query)
        first = await client.receive()
        assert first["payload"]["data"]["executionChanged"]["status"] == "WAITING_FOR_APPROVAL"
        read = await graphql(
            live.http, '{ execution(id: "rv:exec_wait0001") { approvals { id status } } }'
        )
        approvals = read["data"]["execution"]["approvals"]
        approval = next(a["id"] for a in approvals if a["status"] == "PENDING")
        decided = await graphql(
            live.http,
            "mutation($a: ID!) { approve(input: {approvalId: $a}) { __typename } }",
            {"a": approval},
        )
        assert decided["data"]["approve"]["__typename"] == "DecisionSuccess"
        second = await client.receive()  # the poll clock stands still: this came from the hook
        assert second["payload"]["data"]["executionChanged"] == {
            "status": "COMPLETED",
            "approvals": [{"status": "APPROVED"}],
        }
        assert await client.receive() == {"id": "1", "type": "complete"}
    assert live.hub.stats.polls == 0


async def test_an_http_stream_outlives_its_request_deadline(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    """Each event of an SSE subscription gets a deadline of its own: nested fields that need an
    upstream read still answer after the opening request's deadline has passed."""
    no_cache = {"active_ttl_s": 0, "terminal_ttl_s": 0}  # children are read from the upstream
    async with live_gateway(
        sandbox, sandbox_url, server={"request_deadline_s": 0.2}, cache=no_cache
    ) as live:
        native = next(
            i
            for i, run in sandbox.nesting.executions.items()
            if run["status"] == "running" and not run["parentId"] and sandbox.nesting.children_of(i)
        )
        query = "subscription($id: ID!) { executionChanged(id: $id) { status children { id } } }"
        body = {"query": query, "variables": {"id": f"zaia:{native}"}}
        events: list[dict[str, object]] = []
        async with live.http.stream(
            "POST", "/graphql", json=body, headers={"accept": "text/event-stream"}
        ) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: {"):
                    continue
                events.append(json.loads(line[len("data: ") :]))
                if len(events) == 2:
                    break
                await asyncio.sleep(0.3)  # past the opening request's deadline
                assert Progress(sandbox).finish("nesting", native)
                await eventually(lambda: live.clock.sleepers == 1, what="the poll waits")
                live.clock.tick()
        assert "errors" not in events[1], events[1]
        assert events[1]["data"]["executionChanged"]["status"] == "COMPLETED"  # type: ignore[index]


async def test_a_websocket_that_falls_behind_is_closed_with_the_reason(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    async with live_gateway(sandbox, sandbox_url, live={"subscriber_queue": 2}) as live:
        native = running_id(sandbox, "rotavision")
        query = "subscription($id: ID!) { executionChanged(id: $id) { status } }"
        async with TransportWS.open(live.ws_url) as client:
            await client.subscribe("1", query, {"id": f"rv:{native}"})
            await client.receive()
            current = await live.hub.read("rv", native)
            for n in range(5):  # faster than the subscription can take them: no await yields
                await live.hub.observe("rv", dataclasses.replace(current, raw={"n": n}))
            with pytest.raises(ConnectionClosed) as closed:
                await _until_closed(client)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4503, "slow consumer")
        assert live.hub.bus.dropped == 1  # type: ignore[attr-defined]
        await eventually(lambda: live.hub.open_subscriptions == 0, what="released")


async def _until_closed(client: TransportWS) -> None:
    while True:
        await client.receive()
