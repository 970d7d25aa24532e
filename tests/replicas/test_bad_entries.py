"""Redis is data, not truth, across two replicas and a real redis-server: an answer planted in
Redis is never served, and a key holding the wrong kind of value never puts a replica in degraded
mode; each is dropped and counted in ``gateway_state_bad_entries_total``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import orjson
import pytest
import redis.asyncio as aioredis

from sandbox.webhooks import WebhookEvent
from tests.live.support import eventually, running_id, send_webhook
from tests.replicas.test_cache_coherence import answered, finished_rotavision
from tests.replicas.test_live_replicas import two_replicas
from tests.replicas.test_shared_answers import shared_by

if TYPE_CHECKING:
    import httpx

    from sandbox import Sandbox
    from tests.redis_server import RedisServer

pytestmark = pytest.mark.e2e

PLANTED_BODY = b'{"data":{"execution":{"id":"planted","status":"COMPLETED","outputs":{}}}}'


async def bad_entries(client: httpx.AsyncClient, kind: str) -> float:
    sample = f'gateway_state_bad_entries_total{{kind="{kind}"}} '
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith(sample):
            return float(line.split()[1])
    return 0.0


async def test_a_planted_answer_is_never_served(
    sandbox: Sandbox, sandbox_url: str, redis_server: RedisServer
) -> None:
    native = finished_rotavision(sandbox)
    raw = aioredis.Redis.from_url(redis_server.url)
    try:
        async with two_replicas(sandbox, sandbox_url, redis_server.url) as (a, b):
            genuine = await answered(a.http, native)
            await shared_by(a, 1)
            keys = await raw.keys("gateway:answer:*")
            assert len(keys) == 1
            # What the issue saw served verbatim: its own content type and a 260-year max-age.
            header = {
                "type": "text/html",
                "tags": [["rv", native]],
                "expires": time.time() + 8_203_348_629,
            }
            await raw.set(keys[0], orjson.dumps(header) + b"\n" + PLANTED_BODY, px=600_000)
            reads = a.reads("rotavision")  # one count: both replicas read the same sandbox
            on_b = await answered(b.http, native)
            assert on_b.content == genuine.content
            assert on_b.headers["content-type"] == genuine.headers["content-type"]
            assert on_b.headers["cache-control"] == genuine.headers["cache-control"]
            assert await bad_entries(b.http, "answer") == 1
            # B rebuilt the answer from the execution A shared (sealed: that one it trusts).
            assert b.reads("rotavision") == reads
            assert (await b.http.get("/readyz")).status_code == 200
    finally:
        await raw.aclose()


async def test_a_string_at_a_tagged_key_never_degrades_a_replica(
    sandbox: Sandbox, sandbox_url: str, redis_server: RedisServer
) -> None:
    """The issue's case: a string where a tag's set of answers belongs made every supersede of
    that execution fail, so the replica kept it unsent and stayed degraded while /readyz said
    ready. Now the string is dropped, the supersede goes through, and nothing is degraded."""
    native = finished_rotavision(sandbox)
    other = running_id(sandbox, "rotavision")
    raw = aioredis.Redis.from_url(redis_server.url)
    try:
        async with two_replicas(sandbox, sandbox_url, redis_server.url) as (a, b):
            await raw.set(f"gateway:tagged:execution:rv:{native}", b"not a set")
            await answered(a.http, native)
            await shared_by(a, 1)  # shared despite the planted key (dropped on the way)
            await raw.set(f"gateway:tagged:execution:rv:{other}", b"not a set either")
            event = WebhookEvent("rotavision", other, "workflow.completed")
            assert (await send_webhook(a, event)).json() == {"outcome": "accepted"}
            await eventually(lambda: not a.hub._refreshing, what="A's re-read")
            for replica in (a, b):
                ready = await replica.http.get("/readyz")
                assert ready.status_code == 200, ready.text
                metrics = (await replica.http.get("/metrics")).text
                assert 'gateway_state_available{backend="redis"} 1.0' in metrics
            assert await bad_entries(a.http, "tagged") == 2
            assert await raw.type(f"gateway:tagged:execution:rv:{other}") == b"none"
            assert await raw.get(f"gateway:version:execution:rv:{other}") == b"1"
            # The answer shared despite the first planted key is dropped by a change as usual.
            sandbox.rotavision.executions[native]["outputs"] = {"corrected": True}
            event = WebhookEvent("rotavision", native, "workflow.completed")
            assert (await send_webhook(a, event)).json() == {"outcome": "accepted"}
            await eventually(lambda: not a.hub._refreshing, what="A's re-read")
            fresh = (await answered(b.http, native)).json()["data"]["execution"]
            assert fresh["outputs"] == {"corrected": True}
    finally:
        await raw.aclose()
