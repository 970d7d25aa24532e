"""The rate limit's buckets (gateway/gate/rate.py); tests/gateway/gate/test_matrix.py shows the
limit refusing alike on every transport."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.config import RateLimitConfig
from gateway.core.caller import ANONYMOUS, Caller
from gateway.gate import RateLimit, RateLimiter, client_key


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_bucket_refills_at_the_rate(clock: FakeClock) -> None:
    limiter = RateLimiter(2.0, 3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") == pytest.approx(0.5)
    clock.now += 100
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]  # never above burst
    assert limiter.acquire("a") > 0


def test_buckets_are_bounded(clock: FakeClock) -> None:
    limiter = RateLimiter(1.0, 1, max_clients=10, clock=clock)
    for index in range(1000):
        limiter.acquire(f"client-{index}")
    assert len(limiter) == 10


def test_idle_buckets_are_dropped_once_full(clock: FakeClock) -> None:
    limiter = RateLimiter(1.0, 5, clock=clock)
    limiter.acquire("a")
    clock.now += 5.001
    limiter.acquire("b")
    assert len(limiter) == 1


def test_a_zero_rate_cannot_build_a_limiter() -> None:
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(0, 1)


@pytest.mark.parametrize(
    ("state", "client", "expected"),
    [
        pytest.param(
            {"caller": Caller("ops", frozenset())}, ("10.0.0.1", 1), "caller:ops", id="caller"
        ),
        pytest.param({"caller": ANONYMOUS}, ("10.0.0.1", 1), "addr:10.0.0.1", id="anonymous"),
        pytest.param({}, ("10.0.0.2", 1), "addr:10.0.0.2", id="no-auth"),
        pytest.param({}, None, "addr:unknown", id="no-client"),
    ],
)
def test_client_key(state: dict[str, Any], client: tuple[str, int] | None, expected: str) -> None:
    assert client_key(state.get("caller"), client) == expected


async def test_the_process_buckets_stand_alone(clock: FakeClock) -> None:
    limit = RateLimit(RateLimitConfig(requests_per_s=1.0, burst=1), clock=clock)
    assert [await limit.wait("a"), await limit.wait("b")] == [0.0, 0.0]
    assert await limit.wait("a") == pytest.approx(1.0)
    clock.now += 1.0
    assert await limit.wait("a") == 0.0


async def test_a_zero_rate_limits_nothing() -> None:
    limit = RateLimit(RateLimitConfig(requests_per_s=0, burst=1))
    assert [await limit.wait("a") for _ in range(100)] == [0.0] * 100
