"""A subscription resumes on another replica: the change log is a Redis stream both share, so a
client away for N changes (published by either replica) gets exactly those N, in order, then
live ones, wherever it reconnects."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from gateway.live.changelog import parse_position
from tests.live.support import TransportWS, live_gateway
from tests.live.test_resume import CHANGES, finish, next_change, running_orchestrations, subscribed
from tests.replicas.test_live_replicas import shared, two_replicas

if TYPE_CHECKING:
    from sandbox import Sandbox
    from tests.redis_server import RedisServer

pytestmark = pytest.mark.e2e


async def test_a_client_resumes_on_the_other_replica_without_a_gap_or_a_double(
    sandbox: Sandbox, sandbox_url: str, redis_server: RedisServer
) -> None:
    async with two_replicas(sandbox, sandbox_url, redis_server.url) as (a, b):
        runs = running_orchestrations(sandbox, 5)
        async with TransportWS.open(a.ws_url) as client:
            await client.subscribe("1", CHANGES)
            await subscribed(a)
            await finish(a, runs[0])
            _, last = await next_change(client)
        for index, native in enumerate(runs[1:4]):  # away for three, learnt by either replica
            await finish(a if index % 2 == 0 else b, native)
        async with TransportWS.open(b.ws_url) as client:
            await client.subscribe("2", CHANGES, {"after": last})
            replayed = [await next_change(client) for _ in range(3)]
            assert [i for i, _ in replayed] == [f"tl:{n}" for n in runs[1:4]]
            positions = [parse_position(p) or (0, 0) for _, p in replayed]
            assert positions == sorted(positions)
            await finish(a, runs[4])  # live, published by the other replica
            assert (await next_change(client))[0] == f"tl:{runs[4]}"
        assert b.hub.stats.resumed == 1


async def test_a_position_trimmed_from_the_shared_log_is_resume_too_old(
    sandbox: Sandbox, sandbox_url: str, redis_server: RedisServer
) -> None:
    bounded = {**shared(redis_server.url), "live": {"resume_max_entries": 2}}
    async with (
        live_gateway(sandbox, sandbox_url, **bounded) as a,
        live_gateway(sandbox, sandbox_url, **bounded) as b,
    ):
        runs = running_orchestrations(sandbox, 4)
        async with TransportWS.open(a.ws_url) as client:
            await client.subscribe("1", CHANGES)
            await subscribed(a)
            await finish(a, runs[0])
            _, last = await next_change(client)
        for native in runs[1:4]:  # the stream keeps two: one after ``last`` is gone
            await finish(a, native)
        async with TransportWS.open(b.ws_url) as client:
            await client.subscribe("2", CHANGES, {"after": last})
            refused = await client.receive()
            assert refused["payload"]["errors"][0]["extensions"]["code"] == "RESUME_TOO_OLD"
            assert await client.receive() == {"id": "2", "type": "complete"}
            await client.subscribe("3", CHANGES, {"after": "1-0"})  # never issued by this log
            assert (await client.receive())["payload"]["errors"][0]["extensions"]["code"] == (
                "RESUME_TOO_OLD"
            )
        assert b.hub.stats.resume_too_old == 2
