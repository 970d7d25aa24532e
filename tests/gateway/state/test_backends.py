"""Every shared-state backend gives each operation the same meaning: memory and a real Redis."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

import pytest

from gateway.state.base import SharedState, StateUnavailable
from gateway.state.memory import MemoryState
from gateway.state.redis import RedisState

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.redis_server import RedisServer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def state(request: pytest.FixtureRequest) -> AsyncIterator[SharedState]:
    backend: SharedState
    if request.param == "memory":
        backend = MemoryState()
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        backend = RedisState(server.url, prefix=f"t{uuid.uuid4().hex[:6]}:")
    try:
        yield backend
    finally:
        await backend.aclose()


async def test_values_round_trip_and_delete(state: SharedState) -> None:
    assert await state.get("k") is None
    await state.set("k", b"\x00value", ttl_s=60)
    assert await state.get("k") == b"\x00value"
    await state.delete("k")
    assert await state.get("k") is None


async def test_a_non_positive_ttl_stores_nothing(state: SharedState) -> None:
    await state.set("k", b"v", ttl_s=0)
    assert await state.get("k") is None


async def test_a_value_read_before_a_supersede_is_not_written_back_after_it(
    state: SharedState,
) -> None:
    assert await state.read_versioned("k") == (None, b"")
    assert await state.write_if_version("k", b"first", 60, b"")
    value, before = await state.read_versioned("k")
    assert value == b"first"
    await state.supersede("k")  # a change: the value goes, the version moves on
    assert await state.get("k") is None
    # A reader that began before the change brings its (old) value back: refused.
    assert not await state.write_if_version("k", b"old", 60, before)
    assert await state.get("k") is None
    # A reader that began after it writes.
    value, after = await state.read_versioned("k")
    assert (value, after != before) == (None, True)
    assert await state.write_if_version("k", b"new", 60, after)
    assert await state.read_versioned("k") == (b"new", after)
    await state.supersede("k")
    assert not await state.write_if_version("k", b"older", 60, after)
    assert await state.write_if_version("k", b"x", 0, (await state.read_versioned("k"))[1]) is False


async def test_add_once_is_true_only_the_first_time(state: SharedState) -> None:
    results = await asyncio.gather(*(state.add_once("event:1", ttl_s=60) for _ in range(20)))
    assert results.count(True) == 1
    assert await state.add_once("event:2", ttl_s=60) is True


async def test_a_lock_has_one_owner_and_only_the_owner_releases_it(state: SharedState) -> None:
    assert await state.acquire("lock", "a", ttl_s=30) is True
    assert await state.acquire("lock", "b", ttl_s=30) is False
    assert await state.acquire("lock", "a", ttl_s=30) is True  # the owner again: still its own
    assert await state.release("lock", "b") is False
    assert await state.acquire("lock", "b", ttl_s=30) is False
    assert await state.release("lock", "a") is True
    assert await state.acquire("lock", "b", ttl_s=30) is True


async def test_concurrent_acquires_have_one_winner(state: SharedState) -> None:
    owners = [f"o{n}" for n in range(30)]
    won = await asyncio.gather(*(state.acquire("lock", o, ttl_s=30) for o in owners))
    assert won.count(True) == 1


async def test_the_token_bucket_allows_the_burst_then_refuses(state: SharedState) -> None:
    verdicts = [await state.take_token("client", rate_per_s=0.001, burst=5) for _ in range(7)]
    assert [v.allowed for v in verdicts] == [True] * 5 + [False] * 2
    assert verdicts[4].remaining == 0
    assert verdicts[5].retry_after_s > 0
    other = await state.take_token("other client", rate_per_s=0.001, burst=5)
    assert other.allowed is True


async def test_memory_entries_expire_on_the_clock() -> None:
    clock = Clock()
    state = MemoryState(clock=clock)
    await state.set("k", b"v", ttl_s=10)
    assert await state.add_once("e", ttl_s=10) is True
    assert await state.acquire("lock", "a", ttl_s=10) is True
    clock.now += 10.5
    assert await state.get("k") is None
    assert await state.add_once("e", ttl_s=10) is True
    assert await state.acquire("lock", "b", ttl_s=10) is True


async def test_memory_tokens_refill_on_the_clock() -> None:
    clock = Clock()
    state = MemoryState(clock=clock)
    for _ in range(2):
        assert (await state.take_token("c", rate_per_s=1, burst=2)).allowed
    refused = await state.take_token("c", rate_per_s=1, burst=2)
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(1.0)
    clock.now += 1.0
    assert (await state.take_token("c", rate_per_s=1, burst=2)).allowed


async def test_memory_stays_within_its_bound() -> None:
    state = MemoryState(max_entries=10)
    for n in range(50):
        await state.set(f"k{n}", b"v", ttl_s=60 + n)
    assert len([n for n in range(50) if await state.get(f"k{n}") is not None]) == 10
    assert await state.get("k49") == b"v"


async def test_redis_entries_expire(redis_server: RedisServer) -> None:
    state = RedisState(redis_server.url)
    try:
        await state.set("k", b"v", ttl_s=0.05)
        assert await state.add_once("e", ttl_s=0.05)
        for _ in range(100):
            if await state.get("k") is None and await state.add_once("e", ttl_s=60):
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("redis kept the entries past their TTL")
    finally:
        await state.aclose()


async def test_redis_down_raises_state_unavailable_and_recovers(redis_server: RedisServer) -> None:
    state = RedisState(redis_server.url, timeout_s=0.5)
    try:
        await state.set("k", b"v", ttl_s=60)
        assert state.available
        redis_server.stop()
        with pytest.raises(StateUnavailable):
            await state.get("k")
        assert not state.available
        assert await state.ping() is False
        redis_server.start()
        assert await state.ping() is True
        assert state.available
        assert await state.get("k") is None  # a restarted Redis without persistence is empty
    finally:
        await state.aclose()


async def test_a_tagged_value_goes_when_a_tag_is_superseded_and_waits_out_a_fresh_change(
    state: SharedState,
) -> None:
    assert await state.write_tagged("answer:1", b"a1", 60, ["exec:x", "exec:y"], quiet_s=30)
    assert await state.write_tagged("answer:2", b"a2", 60, ["exec:y"], quiet_s=30)
    assert await state.write_tagged("answer:3", b"a3", 60, ["exec:z"], quiet_s=30)
    await state.supersede("exec:y")
    assert await state.get("answer:1") is None
    assert await state.get("answer:2") is None
    assert await state.get("answer:3") == b"a3"
    # Right after a change, an answer holding it may have been computed from before: refused.
    assert not await state.write_tagged("answer:1", b"a1", 60, ["exec:x", "exec:y"], quiet_s=30)
    assert await state.get("answer:1") is None
    # Without a quiet period (a change long enough ago), it is kept again, and dropped again.
    assert await state.write_tagged("answer:1", b"a1", 60, ["exec:y"], quiet_s=0)
    await state.supersede("exec:y")
    assert await state.get("answer:1") is None
    assert not await state.write_tagged("answer:4", b"a4", 0, ["exec:z"], quiet_s=0)
