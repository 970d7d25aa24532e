"""Subscriptions end to end: a real graphql-transport-ws client and SSE over HTTP, the gateway
and the sandbox on loopback, webhooks signed as the vendors sign them."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from sandbox.progress import Progress
from sandbox.webhooks import WebhookEvent
from tests.live.support import Live, TransportWS, eventually, live_gateway, running_id, send_webhook

if TYPE_CHECKING:
    from sandbox import Sandbox

pytestmark = pytest.mark.e2e

PROTOCOL = Subprotocol("graphql-transport-ws")
CHANGED = "subscription($id: ID!) { executionChanged(id: $id) { id status } }"


async def test_current_state_then_the_change_after_a_webhook_then_complete(live: Live) -> None:
    native = running_id(live.sandbox, "rotavision")
    async with TransportWS.open(live.ws_url) as client:
        await client.subscribe("1", CHANGED, {"id": f"rv:{native}"})
        first = await client.receive()
        assert first["type"] == "next"
        assert first["payload"]["data"]["executionChanged"]["status"] == "RUNNING"
        assert Progress(live.sandbox).finish("rotavision", native)
        response = await send_webhook(
            live, WebhookEvent("rotavision", native, "workflow.completed")
        )
        assert response.status_code == 202
        second = await client.receive()
        assert second["payload"]["data"]["executionChanged"] == {
            "id": f"rv:{native}",
            "status": "COMPLETED",
        }
        assert await client.receive() == {"id": "1", "type": "complete"}
    await eventually(lambda: live.hub.open_subscriptions == 0, what="subscription released")


async def test_the_sse_transport_streams_the_same_events(live: Live) -> None:
    native = running_id(live.sandbox, "velt")
    body = {"query": CHANGED, "variables": {"id": f"velt:{native}"}}
    events: list[dict[str, object]] = []
    async with live.http.stream(
        "POST", "/graphql", json=body, headers={"accept": "text/event-stream"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                kind = line[len("event: ") :]
                if kind == "complete":
                    break
            elif line.startswith("data: ") and kind == "next":
                events.append(json.loads(line[len("data: ") :]))
                if len(events) == 1:
                    assert Progress(live.sandbox).finish("velt", native)
                    await send_webhook(live, WebhookEvent("velt", native, "execution.completed"))
    statuses = [e["data"]["executionChanged"]["status"] for e in events]  # type: ignore[index]
    assert statuses == ["RUNNING", "COMPLETED"]


async def test_the_key_may_come_in_connection_init_and_nothing_without_it(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    env = {"OPS_KEY": "key-ops-0123456789"}
    auth = {
        "mode": "api_key",
        "clients": [{"name": "ops", "key_env": "OPS_KEY", "roles": ["viewer"]}],
    }
    async with live_gateway(sandbox, sandbox_url, env=env, auth=auth) as live:
        native = running_id(sandbox, "rotavision")
        # No key at all: the socket closes at connection_init, before any subscription.
        async with connect(live.ws_url, subprotocols=[PROTOCOL]) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), 10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403
        # A wrong key in the handshake header: refused before the upgrade.
        with pytest.raises(InvalidStatus):
            async with TransportWS.open(
                live.ws_url, additional_headers={"Authorization": "Bearer wrong"}
            ):
                pass
        # SSE without a key: 401 like any request.
        response = await live.http.post(
            "/graphql",
            json={"query": CHANGED, "variables": {"id": f"rv:{native}"}},
            headers={"accept": "text/event-stream"},
        )
        assert response.status_code == 401
        # The key in connection_init (what a browser does): the current state arrives.
        async with TransportWS.open(
            live.ws_url, {"Authorization": "Bearer key-ops-0123456789"}
        ) as client:
            await client.subscribe("1", CHANGED, {"id": f"rv:{native}"})
            first = await client.receive()
            assert first["payload"]["data"]["executionChanged"]["status"] == "RUNNING"
        assert live.hub.stats.subscriptions_opened == 1


async def test_a_thousand_subscribers_cost_one_read_per_poll_and_leave_nothing(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    """Zaia has no webhooks: one shared poll serves every subscriber of the execution."""
    live_config = {"max_subscriptions_per_client": 1000, "keepalive_s": 3600}
    async with live_gateway(sandbox, sandbox_url, live=live_config) as live:
        native = running_id(sandbox, "nesting")
        connections, per_connection = 4, 250
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(TransportWS.open(live.ws_url))
                for _ in range(connections)
            ]
            for client in clients:
                for n in range(per_connection):
                    await client.subscribe(str(n), CHANGED, {"id": f"zaia:{native}"})
            for client in clients:
                for _ in range(per_connection):
                    assert (await client.receive())["type"] == "next"
            await eventually(lambda: live.clock.sleepers == 1, what="one poll waiting")
            assert live.hub.open_subscriptions == 1000
            assert len(live.hub.polls) == 1
            reads = live.reads("nesting")
            live.clock.tick()  # one poll round: nothing changed, nothing sent
            await eventually(lambda: live.reads("nesting") == reads + 1, what="one poll read")
            await eventually(lambda: live.clock.sleepers == 1, what="the poll waits again")
            assert Progress(sandbox).finish("nesting", native)
            live.clock.tick()
            for client in clients:
                for _ in range(per_connection):
                    message = await client.receive()
                    assert message["payload"]["data"]["executionChanged"]["status"] == "COMPLETED"
                    assert (await client.receive())["type"] == "complete"
            assert live.reads("nesting") == reads + 2
        await eventually(lambda: live.hub.open_subscriptions == 0, what="all released")
        assert live.hub.bus.subscribers() == 0  # type: ignore[attr-defined]
        assert live.hub.polls == {}
        await eventually(lambda: len(live.hub.background) == 0, what="no task left")


async def test_disconnecting_subscribers_leaves_no_task_subscription_or_buffer(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    live_config = {"max_subscriptions_per_client": 1000}
    async with live_gateway(sandbox, sandbox_url, live=live_config) as live:
        native = running_id(sandbox, "rotavision")  # polled: no event for 'waiting'
        async with TransportWS.open(live.ws_url) as client:
            for n in range(500):
                await client.subscribe(str(n), CHANGED, {"id": f"rv:{native}"})
            for _ in range(500):
                assert (await client.receive())["type"] == "next"
            assert live.hub.open_subscriptions == 500
            assert live.hub.bus.subscribers() == 500  # type: ignore[attr-defined]
            assert len(live.hub.background) == 1  # the one shared poll
        await eventually(lambda: live.hub.open_subscriptions == 0, what="released")
        assert live.hub.bus.subscribers() == 0  # type: ignore[attr-defined]
        assert live.hub.bus.topics == 0  # type: ignore[attr-defined]
        assert live.hub.polls == {}
        await eventually(lambda: len(live.hub.background) == 0, what="no task left")


async def test_subscriptions_per_client_are_bounded(sandbox: Sandbox, sandbox_url: str) -> None:
    async with live_gateway(sandbox, sandbox_url, live={"max_subscriptions_per_client": 2}) as live:
        native = running_id(sandbox, "rotavision")
        async with TransportWS.open(live.ws_url) as client:
            for n in range(2):
                await client.subscribe(str(n), CHANGED, {"id": f"rv:{native}"})
                assert (await client.receive())["type"] == "next"
            async with TransportWS.open(live.ws_url) as other:
                await other.subscribe("x", CHANGED, {"id": f"rv:{native}"})
                refused = await other.receive()
        assert refused["type"] in ("error", "next")
        errors = refused["payload"] if refused["type"] == "error" else refused["payload"]["errors"]
        assert errors[0]["extensions"]["limit"] == "live.max_subscriptions_per_client"


async def test_approval_requested_announces_a_newly_waiting_run_once(live: Live) -> None:
    query = 'subscription { approvalRequested(sources: ["rv"]) { status execution { id } } }'
    native = running_id(live.sandbox, "rotavision")
    async with TransportWS.open(live.ws_url) as client:
        await client.subscribe("a", query)
        await eventually(lambda: live.clock.sleepers == 1, what="the pending-list poll")
        live.clock.tick()  # baseline: what waits already is not announced
        await eventually(lambda: live.hub.stats.polls == 1 and live.clock.sleepers == 1)
        run = live.sandbox.rotavision.executions[native]
        run["status"] = "waiting_approval"
        run["waiting_for"] = {"type": "human_approval", "assignees": ["ops@example.com"]}
        run["created_at"] = "2030-01-01T00:00:00Z"  # newest, so on the first page
        for _ in range(2):
            live.clock.tick()
            await eventually(lambda: live.clock.sleepers == 1, what="the next round")
        message = await client.receive()
        assert message["payload"]["data"]["approvalRequested"] == {
            "status": "PENDING",
            "execution": {"id": f"rv:{native}"},
        }
        assert live.hub.stats.approvals_announced == 1


async def test_execution_changes_streams_matching_changes(live: Live) -> None:
    query = (
        'subscription { executionChanges(filter: {sources: ["tl"], statuses: [COMPLETED]}) '
        "{ id status } }"
    )
    native = running_id(live.sandbox, "truthlocks")
    other = running_id(live.sandbox, "velt")
    async with TransportWS.open(live.ws_url) as client:
        await client.subscribe("f", query)
        await eventually(lambda: live.hub.bus.subscribers("executions") == 1)  # type: ignore[attr-defined]
        assert Progress(live.sandbox).finish("velt", other)
        await send_webhook(live, WebhookEvent("velt", other, "execution.completed"))
        assert Progress(live.sandbox).finish("truthlocks", native)
        await send_webhook(live, WebhookEvent("truthlocks", native, "orchestration.completed"))
        message = await client.receive()
        assert message["payload"]["data"]["executionChanges"] == {
            "id": f"tl:{native}",
            "status": "COMPLETED",
        }


async def test_websocket_keepalive_pings(sandbox: Sandbox, sandbox_url: str) -> None:
    async with (
        live_gateway(sandbox, sandbox_url, live={"keepalive_s": 0.05}) as live,
        TransportWS.open(live.ws_url) as client,
    ):
        native = running_id(sandbox, "rotavision")
        await client.subscribe("1", CHANGED, {"id": f"rv:{native}"})
        await client.receive()
        # Nothing changes (the poll clock stands still): the next message is the server's ping.
        ping = json.loads(await asyncio.wait_for(client.socket.recv(), 10))
        assert ping == {"type": "ping"}
