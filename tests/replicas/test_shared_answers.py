"""Whole answers shared by replicas through one real Redis: an answer one replica kept is a hit on
another, a change drops it for all, an answer that may predate a change is not shared, and a
request known not to be cacheable does not ask Redis."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import redis

from sandbox.webhooks import WebhookEvent
from tests.live.support import eventually, send_webhook, until
from tests.replicas.test_cache_coherence import answered, finished_rotavision
from tests.replicas.test_live_replicas import two_replicas
from tests.serving import metric

if TYPE_CHECKING:
    from sandbox import Sandbox
    from tests.live.support import Live
    from tests.redis_server import RedisServer

pytestmark = pytest.mark.e2e


async def answers_metric(replica: Live, name: str) -> float:
    return await metric(replica.http, f"gateway_response_cache_{name}_total")


def redis_calls(server: RedisServer, command: str) -> int:
    """How many times Redis has run ``command`` (its own count, not ours)."""
    stats = redis.Redis.from_url(server.url).info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def redis_gets(server: RedisServer) -> int:
    return redis_calls(server, "get")


async def shared_by(replica: Live, count: int) -> None:
    """Wait until the replica has shared ``count`` answers (it shares after answering)."""

    async def shared() -> bool:
        return await answers_metric(replica, "shared_stores") >= count

    await until(shared, what=f"the replica sharing {count} answer(s)")


async def test_an_answer_kept_on_one_replica_is_a_hit_on_the_other(
    sandbox: Sandbox, sandbox_url: str, redis_server: RedisServer
) -> None:
    native = finished_rotavision(sandbox)
    async with two_replicas(sandbox, sandbox_url, redis_server.url) as (a, b):
        on_a = await answered(a.http, native)
        await shared_by(a, 1)
        reads = a.reads("rotavision")
        on_b = await answered(b.http, native)
        assert on_b.content == on_a.content
        assert on_b.headers["etag"] == on_a.headers["etag"]
        assert await answers_metric(b, "shared_hits") == 1
        assert a.reads("rotavision") == reads
        # B now holds it itself: the next ask is a local hit, not another Redis read.
        gets = redis_gets(redis_server)
        assert (await answered(b.http, native)).content == on_a.content
        assert redis_gets(redis_server) == gets
        assert await answers_metric(b, "hits") == 1


async def test_a_change_drops_the_shared_answer_and_an_answer_from_just_after_is_not_shared(
    sandbox: Sandbox, sandbox_url: str, redis_server: RedisServer
) -> None:
    native = finished_rotavision(sandbox)
    async with two_replicas(sandbox, sandbox_url, redis_server.url) as (a, b):
        await answered(a.http, native)
        await shared_by(a, 1)
        sandbox.rotavision.executions[native]["outputs"] = {"corrected": True}
        event = WebhookEvent("rotavision", native, "workflow.completed")
        assert (await send_webhook(a, event)).json() == {"outcome": "accepted"}
        await eventually(lambda: not a.hub._refreshing, what="A's re-read")
        # A answers the corrected run; an answer made this soon after the change is kept by A
        # but not shared (a request that began before the change could have made it).
        tries = redis_calls(redis_server, "evalsha")
        fresh_a = (await answered(a.http, native)).json()["data"]["execution"]
        assert fresh_a["outputs"] == {"corrected": True}
        await eventually(
            lambda: redis_calls(redis_server, "evalsha") > tries, what="A's try to share"
        )
        # B never held it: it finds nothing in Redis and computes the corrected run itself.
        fresh_b = (await answered(b.http, native)).json()["data"]["execution"]
        assert fresh_b["outputs"] == {"corrected": True}
        assert await answers_metric(b, "shared_hits") == 0
        assert await answers_metric(a, "shared_stores") == 1


async def test_a_request_found_not_cacheable_does_not_ask_redis_again(
    sandbox: Sandbox, sandbox_url: str, redis_server: RedisServer
) -> None:
    from tests.live.support import running_id

    running = running_id(sandbox, "rotavision")
    async with two_replicas(sandbox, sandbox_url, redis_server.url) as (a, _):
        before = redis_gets(redis_server)
        await answered(a.http, running)
        assert redis_gets(redis_server) == before + 1  # asked once: it might have been shared
        await answered(a.http, running)
        await answered(a.http, running)
        assert redis_gets(redis_server) == before + 1
