"""Shared state kept in this process: the default, for one replica; the model the Redis one follows."""

from __future__ import annotations

import collections
import math
import time
from typing import TYPE_CHECKING

from cachetools import TTLCache

from gateway.state.base import VERSION_TTL_S, TokenVerdict, tagged_key, version_key

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["MemoryState"]

DEFAULT_MAX_ENTRIES = 100_000


class MemoryState:
    name = "memory"

    def __init__(
        self, max_entries: int = DEFAULT_MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self.bad_entries: collections.Counter[str] = collections.Counter()
        self._max_entries = max_entries
        self._values: dict[str, tuple[bytes, float]] = {}
        self._buckets: TTLCache[str, tuple[float, float]] = TTLCache(
            maxsize=max_entries, ttl=3600, timer=clock
        )
        self._tagged: TTLCache[str, set[str]] = TTLCache(
            maxsize=max_entries, ttl=VERSION_TTL_S, timer=clock
        )

    @property
    def available(self) -> bool:
        return True

    def _live(self, key: str) -> bytes | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._values[key]
            return None
        return entry[0]

    def _store(self, key: str, value: bytes, ttl_s: float) -> None:
        if len(self._values) >= self._max_entries and key not in self._values:
            now = self._clock()
            for stale in [k for k, (_, expiry) in self._values.items() if expiry <= now]:
                del self._values[stale]
            if len(self._values) >= self._max_entries:
                del self._values[min(self._values, key=lambda k: self._values[k][1])]
        self._values[key] = (value, self._clock() + ttl_s)

    async def get(self, key: str) -> bytes | None:
        return self._live(key)

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s > 0:
            self._store(key, value, ttl_s)

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)

    async def read_versioned(self, key: str) -> tuple[bytes | None, bytes]:
        return self._live(key), self._live(version_key(key)) or b""

    async def write_if_version(self, key: str, value: bytes, ttl_s: float, version: bytes) -> bool:
        if ttl_s <= 0 or (self._live(version_key(key)) or b"") != version:
            return False
        self._store(key, value, ttl_s)
        return True

    async def supersede(self, key: str) -> None:
        self._values.pop(key, None)
        version = int(self._live(version_key(key)) or b"0") + 1
        self._store(version_key(key), str(version).encode(), VERSION_TTL_S)
        for tagged in self._tagged.pop(tagged_key(key), set()):
            self._values.pop(tagged, None)

    async def write_tagged(
        self, key: str, value: bytes, ttl_s: float, tags: Sequence[str], quiet_s: float
    ) -> bool:
        if ttl_s <= 0:
            return False
        now = self._clock()
        for tag in tags:
            version = self._values.get(version_key(tag))
            if version is not None and version[1] - VERSION_TTL_S > now - quiet_s:
                return False  # superseded (its version set) less than quiet_s ago
        self._store(key, value, ttl_s)
        for tag in tags:
            self._tagged.setdefault(tagged_key(tag), set()).add(key)
        return True

    async def add_once(self, key: str, ttl_s: float) -> bool:
        if self._live(key) is not None:
            return False
        self._store(key, b"", ttl_s)
        return True

    async def acquire(self, key: str, owner: str, ttl_s: float) -> bool:
        held = self._live(key)
        if held is not None and held != owner.encode():
            return False
        self._store(key, owner.encode(), ttl_s)
        return True

    async def release(self, key: str, owner: str) -> bool:
        if self._live(key) != owner.encode():
            return False
        del self._values[key]
        return True

    async def take_token(self, key: str, rate_per_s: float, burst: int) -> TokenVerdict:
        now = self._clock()
        tokens, then = self._buckets.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - then) * rate_per_s)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return TokenVerdict(allowed=True, retry_after_s=0.0, remaining=math.floor(tokens - 1))
        self._buckets[key] = (tokens, now)
        wait = (1 - tokens) / rate_per_s if rate_per_s > 0 else math.inf
        return TokenVerdict(allowed=False, retry_after_s=wait, remaining=0)

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        self._values.clear()
        self._buckets.clear()
        self._tagged.clear()
