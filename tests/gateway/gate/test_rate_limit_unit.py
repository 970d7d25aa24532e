"""The rate limit's arithmetic and its shared bucket (gateway/gate/rate.py): fractional waits, the
idle bucket's lifetime, and one bucket per client across replicas on a real redis-server, with
each process's own bucket standing in while Redis is away."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from gateway.config import RateLimitConfig
from gateway.gate import RateLimit, RateLimiter
from gateway.state.redis import RedisState

if TYPE_CHECKING:
    from tests.redis_server import RedisServer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_a_limiter_needs_a_positive_rate_and_a_burst(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match=r"^rate must be positive and burst at least 1$"):
        RateLimiter(rate, burst)


def test_the_wait_is_for_the_missing_part_of_a_token() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2.0, 1, clock=clock)
    assert limiter.acquire("a") == 0.0
    clock.now += 0.25  # half a token back
    assert limiter.acquire("a") == pytest.approx(0.25)
    assert limiter.acquire("a") == pytest.approx(0.25)  # a refusal takes nothing


def test_an_idle_bucket_lives_until_it_would_be_full() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2.0, 4, clock=clock)  # full again after 4 / 2 = 2 s
    limiter.acquire("a")
    clock.now += 1.9
    limiter.acquire("b")
    assert len(limiter) == 2
    clock.now += 0.2
    limiter.acquire("c")
    assert len(limiter) == 2  # a went once it was full again


async def test_replicas_share_one_bucket_per_client(redis_server: RedisServer) -> None:
    config = RateLimitConfig(requests_per_s=0.5, burst=2)
    first_state, second_state = RedisState(redis_server.url), RedisState(redis_server.url)
    first = RateLimit(config, shared=first_state)
    second = RateLimit(config, shared=second_state)
    try:
        assert [await first.wait("caller:a"), await second.wait("caller:a")] == [0.0, 0.0]
        assert 1.5 < await second.wait("caller:a") <= 2.0  # a token at 0.5 a second
        assert 1.5 < await first.wait("caller:a") <= 2.0
        assert await first.wait("caller:b") == 0.0  # another client, another bucket
        assert await second.wait("caller:b") == 0.0
        assert await second.wait("caller:b") > 1.5
    finally:
        await first_state.aclose()
        await second_state.aclose()


async def test_each_replica_limits_alone_while_redis_is_away(redis_server: RedisServer) -> None:
    clock = FakeClock()
    state = RedisState(redis_server.url, timeout_s=0.5)
    limit = RateLimit(RateLimitConfig(requests_per_s=1.0, burst=1), shared=state, clock=clock)
    try:
        assert await limit.wait("caller:a") == 0.0  # the shared bucket's token
        redis_server.stop()
        assert await limit.wait("caller:a") == 0.0  # this process's own bucket, still full
        assert await limit.wait("caller:a") == pytest.approx(1.0)
    finally:
        await state.aclose()
