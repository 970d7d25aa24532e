"""Redis is data, not truth: against a real redis-server, whatever was planted there (a value no
gateway sealed, a key holding the wrong kind of value, a lock or bucket with impossible bounds)
is dropped and counted, never returned, and never makes the backend report Redis as away."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

import orjson
import pytest
import redis.asyncio as aioredis

from gateway.core.response_cache import CachedAnswer
from gateway.core.shared_answers import SharedAnswers, answer_key
from gateway.state.redis import RedisState

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.redis_server import RedisServer

SECRET = "s" * 40


class Planted:
    """One backend under its own key prefix, and a raw client that writes under it."""

    def __init__(self, state: RedisState, raw: aioredis.Redis, prefix: str) -> None:
        self.state = state
        self.raw = raw
        self.prefix = prefix

    def key(self, key: str) -> str:
        return self.prefix + key


@pytest.fixture
async def planted(redis_server: RedisServer) -> AsyncIterator[Planted]:
    prefix = f"t{uuid.uuid4().hex[:6]}:"
    state = RedisState(redis_server.url, secret=SECRET, prefix=prefix)
    raw = aioredis.Redis.from_url(redis_server.url)
    try:
        yield Planted(state, raw, prefix)
    finally:
        await raw.aclose()
        await state.aclose()


async def test_a_value_no_gateway_sealed_is_dropped_and_counted(planted: Planted) -> None:
    await planted.raw.set(planted.key("answer:k"), b"planted", px=60_000)
    assert await planted.state.get("answer:k") is None
    assert planted.state.bad_entries["answer"] == 1
    assert await planted.raw.exists(planted.key("answer:k")) == 0
    assert planted.state.available


async def test_a_sealed_value_moved_to_another_key_does_not_open(planted: Planted) -> None:
    await planted.state.set("execution:rv:a", b"mine", ttl_s=60)
    sealed = await planted.raw.get(planted.key("execution:rv:a"))
    assert sealed is not None
    await planted.raw.set(planted.key("execution:rv:b"), sealed, px=60_000)
    assert await planted.state.get("execution:rv:a") == b"mine"
    assert await planted.state.read_versioned("execution:rv:b") == (None, b"")
    assert planted.state.bad_entries["execution"] == 1


async def test_a_value_sealed_with_another_secret_does_not_open(
    planted: Planted, redis_server: RedisServer
) -> None:
    other = RedisState(redis_server.url, secret="o" * 40, prefix=planted.prefix)
    try:
        await other.set("decision:confirmed:d", b"{}", ttl_s=60)
    finally:
        await other.aclose()
    assert await planted.state.get("decision:confirmed:d") is None
    assert planted.state.bad_entries["decision"] == 1


async def test_a_wrong_typed_key_under_get_is_a_miss_not_an_outage(planted: Planted) -> None:
    await planted.raw.hset(planted.key("answer:k"), "field", "value")
    assert await planted.state.get("answer:k") is None
    assert planted.state.available
    assert planted.state.bad_entries["answer"] == 1
    await planted.state.set("answer:k", b"fresh", ttl_s=60)
    assert await planted.state.get("answer:k") == b"fresh"


async def test_a_string_at_a_tagged_key_does_not_stop_supersede_or_sharing(
    planted: Planted,
) -> None:
    tag = "execution:rv:1"
    await planted.raw.set(planted.key(f"tagged:{tag}"), b"not a set")
    assert await planted.state.write_tagged("answer:a", b"v", 60, [tag], quiet_s=0)
    assert planted.state.bad_entries["tagged"] == 1
    assert await planted.state.get("answer:a") == b"v"
    await planted.raw.set(planted.key(f"tagged:{tag}"), b"again")
    await planted.state.supersede(tag)
    assert planted.state.bad_entries["tagged"] == 2
    assert planted.state.available


async def test_supersede_drops_only_answers_listed_under_its_tag(planted: Planted) -> None:
    tag = "execution:rv:1"
    await planted.state.set("decision:confirmed:x", b"kept", ttl_s=60)
    await planted.raw.sadd(planted.key(f"tagged:{tag}"), planted.key("decision:confirmed:x"))
    await planted.state.supersede(tag)
    assert await planted.state.get("decision:confirmed:x") == b"kept"


async def test_a_version_that_is_not_a_counter_restarts_and_refuses_older_writes(
    planted: Planted,
) -> None:
    key = "execution:rv:1"
    _, version = await planted.state.read_versioned(key)
    await planted.raw.set(planted.key(f"version:{key}"), b"banana")
    await planted.state.supersede(key)
    assert planted.state.bad_entries["version"] == 1
    assert not await planted.state.write_if_version(key, b"old", 60, version)
    _, fresh = await planted.state.read_versioned(key)
    assert fresh.isdigit()
    assert await planted.state.write_if_version(key, b"new", 60, fresh)


async def test_a_version_of_the_wrong_kind_refuses_the_write_once(planted: Planted) -> None:
    key = "execution:rv:1"
    await planted.raw.sadd(planted.key(f"version:{key}"), "x")
    assert not await planted.state.write_if_version(key, b"v", 60, b"")
    assert planted.state.bad_entries["version"] == 1
    assert await planted.state.write_if_version(key, b"v", 60, b"")
    assert planted.state.available


async def test_a_version_that_never_expires_reads_as_just_superseded(planted: Planted) -> None:
    tag = "execution:rv:1"
    await planted.raw.set(planted.key(f"version:{tag}"), b"7")  # no TTL: not a gateway's
    assert not await planted.state.write_tagged("answer:a", b"v", 60, [tag], quiet_s=30)
    assert planted.state.bad_entries["version"] == 1
    assert 0 < await planted.raw.pttl(planted.key(f"version:{tag}")) <= 86_400_000


async def test_a_lock_that_never_expires_is_not_held(planted: Planted) -> None:
    await planted.raw.set(planted.key("decision:lock:d"), b"intruder")
    assert await planted.state.acquire("decision:lock:d", "me", ttl_s=60)
    assert planted.state.bad_entries["decision"] == 1
    assert not await planted.state.acquire("decision:lock:d", "other", ttl_s=60)
    assert await planted.state.release("decision:lock:d", "me")


async def test_a_lock_of_the_wrong_kind_is_dropped(planted: Planted) -> None:
    await planted.raw.rpush(planted.key("decision:lock:d"), "x")
    assert not await planted.state.release("decision:lock:d", "me")
    assert await planted.state.acquire("decision:lock:d", "me", ttl_s=60)
    assert planted.state.bad_entries["decision"] == 1


@pytest.mark.parametrize(
    "bucket",
    [
        {"tokens": "-1e9", "at": "0"},
        {"tokens": "1", "at": str(time.time() + 86_400)},
        {"tokens": "nan", "at": "0"},
        {"tokens": "many", "at": "then"},
    ],
)
async def test_a_bucket_with_impossible_numbers_starts_full(
    planted: Planted, bucket: dict[str, str]
) -> None:
    for field, value in bucket.items():
        await planted.raw.hset(planted.key("ip:1.2.3.4"), field, value)
    verdict = await planted.state.take_token("ip:1.2.3.4", rate_per_s=1, burst=5)
    assert verdict.allowed
    assert verdict.remaining == 4
    assert planted.state.bad_entries["bucket"] == 1


async def test_a_bucket_of_the_wrong_kind_starts_full(planted: Planted) -> None:
    await planted.raw.set(planted.key("ip:1.2.3.4"), b"x")
    verdict = await planted.state.take_token("ip:1.2.3.4", rate_per_s=1, burst=5)
    assert (verdict.allowed, verdict.remaining) == (True, 4)
    assert planted.state.bad_entries == {"bucket": 1}
    assert planted.state.available


async def test_a_real_bucket_is_not_counted(planted: Planted) -> None:
    for _ in range(3):
        await planted.state.take_token("ip:1.2.3.4", rate_per_s=1, burst=2)
    assert not planted.state.bad_entries


def _sealed_answer(body: bytes, content_type: str, expires: object) -> bytes:
    header = {"type": content_type, "tags": [["rv", "1"]], "expires": expires}
    return orjson.dumps(header) + b"\n" + body


@pytest.mark.parametrize(
    ("body", "content_type", "lives_s"),
    [
        (b'{"data":{}}', "text/html", 60.0),
        (b'{"data":{}}', "application/json", 8_203_348_629.0),
        (b"<script>", "application/json", 60.0),
    ],
)
async def test_a_sealed_answer_the_gateway_could_not_have_written_is_not_served(
    planted: Planted, body: bytes, content_type: str, lives_s: float
) -> None:
    """Sealed by a replica (another build, a bug): still checked against what ``put`` writes."""
    answers = SharedAnswers(planted.state, quiet_s=0, max_ttl_s=300)
    payload = _sealed_answer(body, content_type, time.time() + lives_s)
    await planted.state.set(answer_key("k"), payload, ttl_s=60)
    assert await answers.get("k") is None
    assert planted.state.bad_entries["answer"] == 1
    assert answers.counters.shared_hits == 0


async def test_an_answer_put_by_a_replica_is_served(planted: Planted) -> None:
    answers = SharedAnswers(planted.state, quiet_s=0, max_ttl_s=300)
    answer = CachedAnswer(
        body=b'{"data":{}}',
        etag='"e"',
        expires_at=time.monotonic() + 60,
        tags=frozenset({("rv", "1")}),
        content_type=b"application/graphql-response+json",
    )
    await answers.put("k", answer)
    found = await answers.get("k")
    assert found is not None
    assert (found.body, found.content_type, found.tags) == (
        answer.body,
        answer.content_type,
        answer.tags,
    )
    assert 0 < found.max_age(time.monotonic()) <= 60
    assert not planted.state.bad_entries
