"""Operations per client: a token bucket each (``[rate_limit]``), taken at the gate.

Every operation takes one token, whichever transport carried it: a POST, a GET, an SSE or
multipart subscription, a WebSocket ``subscribe``, and a cached answer served again. A client is
the authenticated caller's name, or the remote address for the anonymous caller (behind a proxy,
run uvicorn with ``--proxy-headers`` so that is the real client). Over the limit:
``RATE_LIMITED`` with ``retryAfter`` in whole seconds (HTTP adds 429 and ``Retry-After``) — the
caller is limited here, unlike ``UPSTREAM_RATE_LIMITED``, where an upstream limits us.

The buckets live in a bounded TTL cache: an idle bucket refills completely in ``burst / rate``
seconds, so dropping it then loses nothing, and the map never holds more than
``MAX_TRACKED_CLIENTS``. With ``[state] backend = "redis"`` the bucket is one for all replicas (an
atomic script on the Redis server's clock), and each process's own bucket stands in while Redis is
away.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cachetools import TTLCache

from gateway.core.caller import ANONYMOUS, Caller
from gateway.state.base import StateUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable

    from gateway.config import RateLimitConfig
    from gateway.state.base import SharedState

__all__ = ["MAX_TRACKED_CLIENTS", "RateLimit", "RateLimiter", "client_key"]

MAX_TRACKED_CLIENTS = 10_000
"""Buckets kept at once; past it the least recently seen client starts afresh."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets by client key: ``rate`` tokens a second, at most ``burst`` saved up."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_clients: int = MAX_TRACKED_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: TTLCache[str, _Bucket] = TTLCache(
            maxsize=max_clients, ttl=burst / rate, timer=clock
        )

    def acquire(self, key: str) -> float:
        """Take one token for ``key``: 0.0 if granted, else the seconds until one is free."""
        now = self._clock()
        bucket = self._buckets.get(key)
        tokens = (
            float(self.burst)
            if bucket is None
            else min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        )
        granted = tokens >= 1
        # Re-inserting also restarts the entry's TTL: it expires once it would be full again.
        self._buckets[key] = _Bucket(tokens - 1 if granted else tokens, now)
        return 0.0 if granted else (1 - tokens) / self.rate

    def __len__(self) -> int:
        return len(self._buckets)


def client_key(caller: Caller | None, address: tuple[str, int] | list[object] | None) -> str:
    """Who an operation counts against: ``caller:<name>``, or ``addr:<host>`` when anonymous."""
    if isinstance(caller, Caller) and caller != ANONYMOUS:
        return f"caller:{caller.name}"
    return f"addr:{address[0] if address else 'unknown'}"


class RateLimit:
    """The ``[rate_limit]`` buckets: per process, or one per client across replicas."""

    def __init__(
        self,
        config: RateLimitConfig,
        *,
        shared: SharedState | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.shared = shared
        """Replicas' one bucket per client (Redis); None: this process's buckets only."""
        self.limiter = (
            RateLimiter(config.requests_per_s, config.burst, clock=clock)
            if config.requests_per_s > 0
            else None
        )

    async def wait(self, key: str) -> float:
        """Take a token for ``key``: 0 when granted, else the seconds until one is free.

        From the shared bucket when there is one; while the shared state is away, each replica
        limits with its own bucket.
        """
        if self.limiter is None:
            return 0.0
        if self.shared is not None:
            try:
                verdict = await self.shared.take_token(
                    f"rate:{key}", self.config.requests_per_s, self.config.burst
                )
            except StateUnavailable:
                pass
            else:
                return 0.0 if verdict.allowed else verdict.retry_after_s
        return self.limiter.acquire(key)
