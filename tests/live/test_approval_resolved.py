"""``approvalResolved``: an approval that stops waiting reaches open inboxes, whether the
gateway's own decision, a webhook or a poll brought the news; once, in the caller's scope, and
resumable with ``after``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from gateway.core import ids
from sandbox import rotavision, velt
from sandbox.app import SANDBOX_CREDENTIALS
from sandbox.webhooks import WebhookEvent
from tests.live.support import Live, TransportWS, eventually, live_gateway, send_webhook
from tests.serving import graphql

if TYPE_CHECKING:
    from sandbox import Sandbox

pytestmark = pytest.mark.e2e

RESOLVED = """subscription ($s: [String!], $after: String) {
  approvalResolved(sources: $s, after: $after) { id status }
}"""
APPROVE = """mutation ($id: ID!) {
  approve(input: {approvalId: $id}) { __typename ... on DecisionError { code message } }
}"""
APPROVALS = "query ($id: ID!) { execution(id: $id) { approvals { id status } } }"


async def pending(live: Live, execution_id: str) -> str:
    body = await graphql(live.http, APPROVALS, {"id": execution_id})
    (approval_id,) = [
        a["id"] for a in body["data"]["execution"]["approvals"] if a["status"] == "PENDING"
    ]
    assert isinstance(approval_id, str)
    return approval_id


async def opened(live: Live, client: TransportWS, sources: list[str], count: int = 1) -> None:
    await client.subscribe(f"r{count}", RESOLVED, {"s": sources})
    await eventually(lambda: live.hub.open_subscriptions == count, what="the subscription")


def resolved(message: dict[str, Any]) -> dict[str, Any]:
    assert message["type"] == "next", message
    data: dict[str, Any] = message["payload"]["data"]["approvalResolved"]
    return data


async def test_the_gateways_own_decision_reaches_an_open_inbox_once(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    async with live_gateway(sandbox, sandbox_url) as live:
        approval_id = await pending(live, f"rv:{rotavision.DEMO_WAITING_ID}")
        async with TransportWS.open(live.ws_url) as client:
            await opened(live, client, ["rv"])
            body = await graphql(live.http, APPROVE, {"id": approval_id})
            assert body["data"]["approve"]["__typename"] == "DecisionSuccess", body
            message = await client.receive()
            assert resolved(message) == {"id": approval_id, "status": "APPROVED"}
            position = message["payload"]["extensions"]["position"]
            # Deciding again is refused: nothing more is announced.
            again = await graphql(live.http, APPROVE, {"id": approval_id})
            assert again["data"]["approve"]["__typename"] == "ApprovalNotWaiting"
        await eventually(lambda: live.hub.open_subscriptions == 0)
        # Resumable: a resolution while no inbox was open is replayed after the position.
        missed = await pending(live, "rv:exec_af80bc0f")
        body = await graphql(live.http, APPROVE, {"id": missed})
        assert body["data"]["approve"]["__typename"] == "DecisionSuccess", body
        await eventually(lambda: live.hub.stats.approvals_resolved > 1, what="the announcement")
        async with TransportWS.open(live.ws_url) as client:
            await client.subscribe("late", RESOLVED, {"s": ["rv"], "after": position})
            # The run's earlier decided steps may come first: this gateway had not seen it before.
            replayed = [
                resolved(await client.receive())
                for _ in range(live.hub.stats.approvals_resolved - 1)
            ]
            assert {"id": missed, "status": "APPROVED"} in replayed
            assert approval_id not in [r["id"] for r in replayed]
            assert live.hub.stats.resumed == 1


async def test_a_vote_made_upstream_reaches_the_inbox_through_a_webhook(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    async with live_gateway(sandbox, sandbox_url) as live:
        approval_id = await pending(live, f"velt:{velt.DEMO_WAITING_ID}")
        ref = ids.parse_id(approval_id)
        assert isinstance(ref, ids.ApprovalRef)
        async with TransportWS.open(live.ws_url) as client:
            await opened(live, client, ["velt"])
            sandbox.velt.record_decision(
                execution_id=velt.DEMO_WAITING_ID,
                step_id=ref.key,
                reviewer_id="lead@example.com",
                decision="reject",
                reason="not like this",
            )
            event = WebhookEvent("velt", velt.DEMO_WAITING_ID, "step.completed", ref.key)
            delivered = await send_webhook(live, event, event_id="evt_resolved_1")
            assert delivered.json() == {"outcome": "accepted"}
            assert resolved(await client.receive()) == {"id": approval_id, "status": "REJECTED"}


async def test_a_decision_made_elsewhere_reaches_the_inbox_through_a_poll(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    """Rotavision sends no webhook for a decision: the approvals poll sees the run leave the
    waiting list and reads it once more."""
    async with live_gateway(sandbox, sandbox_url) as live:
        approval_id = await pending(live, f"rv:{rotavision.DEMO_WAITING_ID}")
        async with TransportWS.open(live.ws_url) as client:
            await opened(live, client, ["rv"])
            await eventually(lambda: live.clock.sleepers == 1, what="the pending-list poll")
            live.clock.tick()  # the baseline round: what waits now
            await eventually(lambda: live.hub.stats.polls == 1 and live.clock.sleepers == 1)
            key = SANDBOX_CREDENTIALS["rotavision"]["api_key"]
            async with httpx.AsyncClient(base_url=sandbox_url) as upstream:
                decided = await upstream.post(  # in the vendor's own console, not the gateway
                    f"/v1/orchestrate/executions/{rotavision.DEMO_WAITING_ID}/approve",
                    json={"approved": True, "notes": "from the vendor's console"},
                    headers={"authorization": f"Bearer {key}"},
                )
                assert decided.status_code < 300, decided.text
            assert live.hub.stats.approvals_resolved == 0
            live.clock.tick()
            assert resolved(await client.receive()) == {"id": approval_id, "status": "APPROVED"}
            assert live.hub.stats.approvals_resolved == 1


async def test_an_inbox_out_of_scope_hears_nothing(sandbox: Sandbox, sandbox_url: str) -> None:
    key = "scoped-key-" + "s" * 24
    auth = {
        "mode": "api_key",
        "clients": [
            {
                "name": "ops",
                "key_env": "OPS_KEY",
                "roles": ["viewer", "approver"],
                "reviewer_id": "ops@example.com",
            },
            {
                "name": "other",
                "key_env": "OTHER_KEY",
                "roles": ["viewer"],
                "scope": {"rv": ["wf_not_this_one"]},
            },
        ],
    }
    env = {"OPS_KEY": "ops-key-" + "o" * 24, "OTHER_KEY": key}
    async with live_gateway(sandbox, sandbox_url, env=env, auth=auth) as live:
        ops = {"Authorization": f"Bearer {env['OPS_KEY']}"}
        body = await graphql(
            live.http, APPROVALS, {"id": f"rv:{rotavision.DEMO_WAITING_ID}"}, headers=ops
        )
        (approval_id,) = [a["id"] for a in body["data"]["execution"]["approvals"]]
        async with (
            TransportWS.open(live.ws_url, {"Authorization": f"Bearer {key}"}) as other,
            TransportWS.open(live.ws_url, {"Authorization": f"Bearer {env['OPS_KEY']}"}) as mine,
        ):
            await other.subscribe("o", RESOLVED, {"s": ["rv"]})
            await mine.subscribe("m", RESOLVED, {"s": ["rv"]})
            await eventually(lambda: live.hub.open_subscriptions == 2)
            decided = await graphql(live.http, APPROVE, {"id": approval_id}, headers=ops)
            assert decided["data"]["approve"]["__typename"] == "DecisionSuccess", decided
            assert resolved(await mine.receive())["id"] == approval_id
            # The other client's stream got nothing: a ping answered proves it is still there.
            await other.send({"type": "ping"})
            assert await other.receive() == {"type": "pong"}
