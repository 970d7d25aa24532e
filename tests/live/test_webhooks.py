"""``POST /webhooks/{source}``: signatures per kind, duplicates, unknown events, rotation, bounds.

Every refusal is checked for having no effect: no upstream re-read, nothing published.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from sandbox.webhooks import WebhookEvent, signed_delivery
from tests.live.support import KINDS, eventually, live_gateway, running_id, send_webhook

if TYPE_CHECKING:
    from sandbox import Sandbox
    from tests.live.support import Live

pytestmark = pytest.mark.e2e

EVENT_TYPES = {
    "rotavision": "workflow.completed",
    "velt": "execution.completed",
    "truthlocks": "orchestration.completed",
}


def event_for(live: Live, kind: str, type_: str | None = None) -> WebhookEvent:
    return WebhookEvent(kind, running_id(live.sandbox, kind), type_ or EVENT_TYPES[kind])


async def settled(live: Live) -> None:
    await eventually(lambda: not live.hub._refreshing, what="re-reads finished")


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_a_valid_signature_re_reads_the_execution_once(live: Live, kind: str) -> None:
    reads = live.reads(kind)
    response = await send_webhook(live, event_for(live, kind))
    assert response.status_code == 202, response.text
    assert response.json() == {"outcome": "accepted"}
    await settled(live)
    assert live.reads(kind) == reads + 1
    assert live.hub.stats.webhooks[(KINDS[kind], "accepted")] == 1


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("fault", ["missing", "wrong_secret", "other_body", "garbled"])
async def test_a_bad_signature_is_401_and_changes_nothing(
    live: Live, kind: str, fault: str
) -> None:
    event = event_for(live, kind)
    body, headers = signed_delivery(event, "whsec_sandbox_" + kind)
    signature_header = next(h for h in headers if "signature" in h.lower())
    if fault == "missing":
        del headers[signature_header]
    elif fault == "wrong_secret":
        _, forged = signed_delivery(event, "not-the-secret")
        headers[signature_header] = forged[signature_header]
    elif fault == "other_body":
        body = body.replace(b"completed", b"failed")
    else:
        headers[signature_header] = "sha256=zz" + headers[signature_header][9:]
    reads = live.reads(kind)
    response = await live.http.post(f"/webhooks/{KINDS[kind]}", content=body, headers=headers)
    assert response.status_code == 401
    assert "whsec" not in response.text
    await asyncio.sleep(0)
    assert live.reads(kind) == reads
    assert live.hub.stats.refreshes == 0
    assert live.hub.stats.webhooks[(KINDS[kind], "bad_signature")] == 1


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_a_replayed_delivery_counts_once(live: Live, kind: str) -> None:
    event = event_for(live, kind)
    body, headers = signed_delivery(event, "whsec_sandbox_" + kind, event_id="evt_replayed_1")
    first = await live.http.post(f"/webhooks/{KINDS[kind]}", content=body, headers=headers)
    await settled(live)
    published = live.hub.stats.published
    reads = live.reads(kind)
    again = await live.http.post(f"/webhooks/{KINDS[kind]}", content=body, headers=headers)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == {"outcome": "duplicate"}
    await settled(live)
    assert live.reads(kind) == reads
    assert live.hub.stats.published == published


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_an_unknown_event_type_is_a_2xx_no_op(live: Live, kind: str) -> None:
    reads = live.reads(kind)
    response = await send_webhook(live, event_for(live, kind, "something.new"))
    assert response.status_code == 200
    assert response.json() == {"outcome": "ignored_type"}
    await asyncio.sleep(0)
    assert live.reads(kind) == reads
    assert live.hub.stats.webhooks[(KINDS[kind], "ignored_type")] == 1


async def test_an_unknown_execution_is_a_2xx_and_counted(live: Live) -> None:
    response = await send_webhook(
        live, WebhookEvent("rotavision", "exec_nowhere", "workflow.failed")
    )
    assert response.status_code == 202
    await eventually(lambda: live.hub.stats.webhooks[("rv", "unknown_execution")] == 1)


async def test_a_burst_for_one_execution_costs_at_most_two_reads(live: Live) -> None:
    """One re-read for the burst, plus one if events came while it ran (so none is missed)."""
    live.sandbox.faults.update({"latency_ms": 100, "only": "executions/{execution_id}"})
    event = event_for(live, "rotavision")
    responses = await asyncio.gather(*(send_webhook(live, event) for _ in range(20)))
    assert all(r.status_code == 202 for r in responses)
    await settled(live)
    assert 1 <= live.reads("rotavision") <= 2


async def test_rotated_secrets_both_verify_and_a_third_does_not(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    env = {"NEW_SECRET": "whsec_new_one", "OLD_SECRET": "whsec_sandbox_rotavision"}
    rotated = {
        "rv": {"webhook_secret_env": "NEW_SECRET", "webhook_secret_previous_env": "OLD_SECRET"}
    }
    async with live_gateway(sandbox, sandbox_url, env=env, sources=rotated) as live:
        event = event_for(live, "rotavision")
        old = await send_webhook(live, event, secret="whsec_sandbox_rotavision")
        new = await send_webhook(live, event, secret="whsec_new_one")
        other = await send_webhook(live, event, secret="whsec_some_other")
        assert (old.status_code, new.status_code, other.status_code) == (202, 202, 401)


async def test_sources_without_webhooks_have_no_route(live: Live) -> None:
    response = await live.http.post("/webhooks/zaia", content=b"{}")
    assert response.status_code == 404
    assert (await live.http.post("/webhooks/nope", content=b"{}")).status_code == 404


async def test_a_body_over_the_bound_is_413_before_any_work(live: Live) -> None:
    big = b"x" * (live.hub.config.webhook_max_body_bytes + 1)
    response = await live.http.post("/webhooks/rv", content=big)
    assert response.status_code == 413
    assert live.hub.stats.webhooks[("rv", "bad_signature")] == 0
