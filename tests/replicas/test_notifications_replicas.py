"""Two replicas sharing a real redis-server: an event both of them see is sent once (claimed in
Redis), and an approval one replica saw requested is told resolved by the other."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import pytest

from sandbox.progress import Progress
from sandbox.webhooks import WebhookEvent
from tests.live.notify_support import Receiver, notifying_gateway, receiving, target
from tests.live.support import Live, eventually, running_id, send_webhook
from tests.serving import graphql

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from gateway.live.notify import Notifier
    from sandbox import Sandbox
    from tests.redis_server import RedisServer

pytestmark = pytest.mark.e2e

WAITING = "exec_wait0001"


def shared(redis_url: str) -> dict[str, Any]:
    return {
        "env": {"REDIS_URL": redis_url, "CURSOR_SECRET": "c" * 40},
        "state": {"backend": "redis", "redis_url_env": "REDIS_URL", "timeout_s": 2.0},
        "server": {"cursor_secret_env": "CURSOR_SECRET"},
    }


@contextlib.asynccontextmanager
async def two_replicas(
    sandbox: Sandbox, sandbox_url: str, redis_url: str
) -> AsyncIterator[tuple[Receiver, Live, Live]]:
    options = shared(redis_url)
    env = options.pop("env")
    async with (
        receiving() as receiver,
        notifying_gateway(sandbox, sandbox_url, [target(receiver)], env=env, **options) as a,
        notifying_gateway(sandbox, sandbox_url, [target(receiver)], env=env, **options) as b,
    ):
        yield receiver, a, b


def notifiers(*replicas: Live) -> list[Notifier]:
    found = [replica.hub.notifier for replica in replicas]
    assert all(n is not None for n in found)
    return [n for n in found if n is not None]


def total(replicas: tuple[Live, Live], counter: str) -> int:
    return sum(getattr(n.stats, counter)["ops"] for n in notifiers(*replicas))


async def test_an_event_both_replicas_see_is_delivered_once(
    sandbox: Sandbox, sandbox_url: str, redis_server: RedisServer
) -> None:
    async with two_replicas(sandbox, sandbox_url, redis_server.url) as (receiver, a, b):
        native = running_id(sandbox, "rotavision")
        assert Progress(sandbox).finish("rotavision", native)
        event = WebhookEvent("rotavision", native, "workflow.completed")
        # Two deliveries with different ids: each replica accepts one and re-reads the run.
        assert (await send_webhook(a, event, event_id="evt_a")).json()["outcome"] == "accepted"
        assert (await send_webhook(b, event, event_id="evt_b")).json()["outcome"] == "accepted"
        await eventually(lambda: a.hub.stats.published == b.hub.stats.published == 1, what="both")
        replicas = (a, b)
        await eventually(
            lambda: total(replicas, "sent") == 1 and total(replicas, "claimed_elsewhere") == 1,
            what="one sent, one claimed elsewhere",
        )
        [delivery] = receiver.deliveries
        payload = delivery.verified()
        assert (payload["type"], payload["data"]["executionId"]) == (
            "execution.completed",
            f"rv:{native}",
        )


async def test_an_approval_requested_on_one_replica_is_told_resolved_by_the_other(
    sandbox: Sandbox, sandbox_url: str, redis_server: RedisServer
) -> None:
    async with two_replicas(sandbox, sandbox_url, redis_server.url) as (receiver, a, b):
        await a.hub.observe("rv", await a.hub.read("rv", WAITING))
        await eventually(lambda: len(receiver.deliveries) == 1, what="approval.requested")
        read = await graphql(
            b.http, f'{{ execution(id: "rv:{WAITING}") {{ approvals {{ id }} }} }}'
        )
        approval = read["data"]["execution"]["approvals"][0]["id"]
        decided = await graphql(
            b.http,
            "mutation($a: ID!) { approve(input: {approvalId: $a}) { __typename } }",
            {"a": approval},
        )
        assert decided["data"]["approve"]["__typename"] == "DecisionSuccess"
        # B never saw the approval pending: the marker A left in Redis tells it the news.
        await eventually(lambda: len(receiver.deliveries) == 3, what="resolved and completed")
        types = [d.verified()["type"] for d in receiver.deliveries]
        assert types[0] == "approval.requested"  # the last two may arrive either way (live.md)
        assert sorted(types[1:]) == ["approval.resolved", "execution.completed"]
        [by_a, by_b] = notifiers(a, b)
        await eventually(lambda: by_b.stats.sent["ops"] == 2, what="B's answers")
        assert by_a.stats.sent["ops"] == 1
