"""Run webhooks from LangGraph's real Agent Server to a real gateway on 127.0.0.1.

Each run the gateway creates asks the server to post its end to
``/webhooks/lg?token=<HMAC of the thread id>``; polling is effectively off (one poll an hour), so
a subscriber that sees a thread move saw the webhook. Deliveries the gateway did not hand out
(no token, another secret's, another thread's) are refused and change nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from typing import TYPE_CHECKING

import pytest

from gateway.core import ids
from tests.langgraph.support import (
    SOURCE,
    gateway_config,
    lg_gateway,
    thread_runs,
    wait_idle,
    waiting_thread,
)
from tests.langgraph.test_agent_server import CHANGED, MULTIPART, START, decide
from tests.live.support import until
from tests.processes import free_port
from tests.serving import graphql, metric

if TYPE_CHECKING:
    import httpx

    from gateway.config import GatewayConfig

pytestmark = pytest.mark.e2e

SECRET = "whsec_langgraph_tests"
ENV = {"LG_WEBHOOK_SECRET": SECRET}


def webhook_config(sandbox_url: str, langgraph_url: str, port: int) -> GatewayConfig:
    return gateway_config(
        sandbox_url,
        langgraph_url,
        ENV,
        source={
            "webhook_secret_env": "LG_WEBHOOK_SECRET",
            "webhook_base_url": f"http://127.0.0.1:{port}",
            "poll_interval_s": 3600,  # only a webhook can explain a change seen in a test
        },
    )


def token(thread_id: str, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), thread_id.encode(), hashlib.sha256).hexdigest()


def webhook_url(port: int, thread_id: str) -> str:
    return f"http://127.0.0.1:{port}/webhooks/{SOURCE}?token={token(thread_id)}"


async def counted(client: httpx.AsyncClient, outcome: str) -> float:
    """``gateway_webhooks_total{source="lg", outcome=...}``, 0 before the first."""
    labels = f'outcome="{outcome}",source="{SOURCE}"'
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith(f"gateway_webhooks_total{{{labels}}}"):
            return float(line.split()[-1])
    return 0.0


async def statuses_until(client: httpx.AsyncClient, execution_id: str, last: str) -> list[str]:
    """The statuses ``executionChanged`` sends a subscriber, until ``last``."""
    body = {"query": CHANGED, "variables": {"id": execution_id}}
    statuses: list[str] = []
    async with client.stream(
        "POST", "/graphql", json=body, headers={"accept": MULTIPART}
    ) as response:
        async for line in response.aiter_lines():
            part = json.loads(line) if line.startswith("{") else {}
            if "payload" in part:
                statuses.append(part["payload"]["data"]["executionChanged"]["status"])
                if statuses[-1] == last:
                    return statuses
    raise AssertionError(f"the subscription ended before {last}: {statuses}")


async def test_a_started_run_s_end_reaches_a_subscriber_by_its_webhook(
    sandbox_url: str, langgraph_url: str
) -> None:
    port = free_port()
    start = {
        "source": SOURCE,
        "idempotencyKey": f"webhook-{uuid.uuid4()}",
        "workflowId": "slow",
        "inputs": {"seconds": 4},
    }
    async with lg_gateway(webhook_config(sandbox_url, langgraph_url, port), port) as client:
        started = await graphql(client, START, {"input": start})
        assert "executionId" in started["data"]["startExecution"], started
        execution_id = started["data"]["startExecution"]["executionId"]
        thread_id = execution_id.split(":", 1)[1]
        (run,) = await thread_runs(langgraph_url, thread_id)
        assert run["kwargs"]["webhook"] == webhook_url(port, thread_id)
        statuses = await asyncio.wait_for(statuses_until(client, execution_id, "COMPLETED"), 30)
        assert await counted(client, "accepted") == 1
    assert statuses[0] in ("PENDING", "RUNNING")  # subscribed before the run ended
    assert statuses[-1] == "COMPLETED"


async def test_the_run_a_decision_sends_has_its_end_posted_too(
    sandbox_url: str, langgraph_url: str
) -> None:
    port = free_port()
    thread_id, interrupt_id = await waiting_thread(langgraph_url, "plovers")
    approval_id = ids.approval_id(SOURCE, thread_id, interrupt_id)
    async with lg_gateway(webhook_config(sandbox_url, langgraph_url, port), port) as client:
        assert (await decide(client, "approve", approval_id))["__typename"] == "DecisionSuccess"
        await wait_idle(langgraph_url, thread_id)
        (resume,) = [
            r for r in await thread_runs(langgraph_url, thread_id) if r["kwargs"]["command"]
        ]
        assert resume["kwargs"]["webhook"] == webhook_url(port, thread_id)
        await until(lambda: _at_least(client, "accepted", 1), what="the resume run's webhook")


async def _at_least(client: httpx.AsyncClient, outcome: str, count: float) -> bool:
    return await counted(client, outcome) >= count


async def test_a_delivery_the_gateway_did_not_hand_out_is_refused_and_changes_nothing(
    sandbox_url: str, langgraph_url: str
) -> None:
    port = free_port()
    thread_id, _ = await waiting_thread(langgraph_url, "stilts")
    body = json.dumps({"run_id": str(uuid.uuid4()), "thread_id": thread_id, "status": "success"})
    forged = {
        "no token": "",
        "another secret's": f"?token={token(thread_id, 'not-the-secret')}",
        "another thread's": f"?token={token(str(uuid.uuid4()))}",
        "two tokens": f"?token={token(thread_id)}&token={token(thread_id)}",
        "not a digest": f"?token={token(thread_id)[:-1]}",
    }
    path = f"/webhooks/{SOURCE}"
    async with lg_gateway(webhook_config(sandbox_url, langgraph_url, port), port) as client:
        for case, query in forged.items():
            refused = await client.post(path + query, content=body)
            assert (refused.status_code, refused.json()) == (401, {"outcome": "bad_signature"}), (
                case
            )
        assert await counted(client, "bad_signature") == len(forged)
        assert await metric(client, "gateway_live_refreshes_total") == 0
        good = await client.post(f"{path}?token={token(thread_id)}", content=body)
        assert (good.status_code, good.json()) == (202, {"outcome": "accepted"})
        again = await client.post(f"{path}?token={token(thread_id)}", content=body)
        assert (again.status_code, again.json()) == (200, {"outcome": "duplicate"})
        await until(lambda: _refreshed(client), what="the accepted delivery's re-read", tries=500)


async def _refreshed(client: httpx.AsyncClient) -> bool:
    return await metric(client, "gateway_live_refreshes_total") == 1
