"""Live changes cross replicas through Redis: a webhook to one replica reaches subscribers on the
other, a duplicate delivered to the other is dropped, and a watched execution is polled once per
round for the whole fleet."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import pytest

from sandbox.progress import Progress
from sandbox.webhooks import WebhookEvent
from tests.live.support import (
    Live,
    TransportWS,
    eventually,
    live_gateway,
    running_id,
    send_webhook,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sandbox import Sandbox
    from tests.redis_server import RedisServer

pytestmark = pytest.mark.e2e

CHANGED = "subscription($id: ID!) { executionChanged(id: $id) { id status } }"


def shared(redis_url: str) -> dict[str, Any]:
    return {
        "env": {"REDIS_URL": redis_url, "CURSOR_SECRET": "c" * 40},
        "state": {"backend": "redis", "redis_url_env": "REDIS_URL", "timeout_s": 2.0},
        "server": {"cursor_secret_env": "CURSOR_SECRET"},
        # Rounds are claimed per wall-clock slot of one interval; a long one keeps both replicas'
        # rounds in one slot however slowly a loaded machine runs them (the test clock drives them).
        "sources": {"zaia": {"poll_interval_s": 3600}},
    }


@contextlib.asynccontextmanager
async def two_replicas(
    sandbox: Sandbox, sandbox_url: str, redis_url: str
) -> AsyncIterator[tuple[Live, Live]]:
    async with (
        live_gateway(sandbox, sandbox_url, **shared(redis_url)) as a,
        live_gateway(sandbox, sandbox_url, **shared(redis_url)) as b,
    ):
        yield a, b


async def test_a_webhook_to_one_replica_reaches_a_subscriber_on_the_other_once(
    sandbox: Sandbox, sandbox_url: str, redis_server: RedisServer
) -> None:
    async with two_replicas(sandbox, sandbox_url, redis_server.url) as (a, b):
        native = running_id(sandbox, "rotavision")
        event = WebhookEvent("rotavision", native, "workflow.completed")
        async with TransportWS.open(b.ws_url) as client:
            await client.subscribe("1", CHANGED, {"id": f"rv:{native}"})
            first = await client.receive()
            assert first["payload"]["data"]["executionChanged"]["status"] == "RUNNING"
            reads = a.reads("rotavision")
            assert Progress(sandbox).finish("rotavision", native)
            delivered = await send_webhook(a, event, event_id="evt_cross_1")
            assert delivered.json() == {"outcome": "accepted"}
            second = await client.receive()
            assert second["payload"]["data"]["executionChanged"]["status"] == "COMPLETED"
            assert await client.receive() == {"id": "1", "type": "complete"}
            # B answered its subscriber with what A read: one upstream read for the fleet.
            assert a.reads("rotavision") == reads + 1
            duplicate = await send_webhook(b, event, event_id="evt_cross_1")
            assert duplicate.json() == {"outcome": "duplicate"}
        assert b.hub.stats.refreshes == 0


async def test_a_watched_execution_is_polled_once_per_round_across_replicas(
    sandbox: Sandbox, sandbox_url: str, redis_server: RedisServer
) -> None:
    async with two_replicas(sandbox, sandbox_url, redis_server.url) as (a, b):
        native = running_id(sandbox, "nesting")  # the nesting kind sends no webhooks: polled
        async with (
            TransportWS.open(a.ws_url) as on_a,
            TransportWS.open(b.ws_url) as on_b,
        ):
            for client in (on_a, on_b):
                await client.subscribe("1", CHANGED, {"id": f"zaia:{native}"})
                assert (await client.receive())["type"] == "next"
            await eventually(lambda: a.clock.sleepers > 0 and b.clock.sleepers > 0, what="polls")
            reads = a.reads("nesting")
            a.clock.tick()
            b.clock.tick()
            await eventually(
                lambda: (
                    a.hub.stats.polls
                    + a.hub.stats.polls_elsewhere
                    + b.hub.stats.polls
                    + b.hub.stats.polls_elsewhere
                    >= 2
                ),
                what="both replicas' rounds",
            )
            # The claiming replica counts its round before its read finishes: wait for the read.
            await eventually(lambda: a.reads("nesting") > reads, what="the one upstream read")
            assert a.hub.stats.polls + b.hub.stats.polls == 1
            assert a.hub.stats.polls_elsewhere + b.hub.stats.polls_elsewhere == 1
            assert a.reads("nesting") == reads + 1
