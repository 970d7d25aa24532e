"""Shared state in Redis, for several replicas: the same meaning as ``memory``, atomic across them.

redis-py's asyncio client with its own connection pool. Locks and the token bucket are Lua
scripts, so each is one atomic step on the server and reads the server's clock, never a replica's.
Any failure to reach Redis raises ``StateUnavailable`` and marks the backend unavailable until
an operation succeeds again; the client reconnects by itself.
"""

from __future__ import annotations

import inspect
import math
import time
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.state.base import (
    VERSION_TTL_S,
    StateUnavailable,
    TokenVerdict,
    tagged_key,
    version_key,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

__all__ = ["RedisState"]

DEFAULT_TIMEOUT_S = 1.0
RETRY_AFTER_S = 1.0
"""After a failure, operations fail at once for this long; then the next one tries Redis again."""

_ACQUIRE = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if held then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_WRITE_IF_VERSION = """
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

# The tagged values are named in the tag's set, not in KEYS: fine on one Redis, not on a cluster.
_SUPERSEDE = """
redis.call('DEL', KEYS[1])
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
for _, tagged in ipairs(redis.call('SMEMBERS', KEYS[3])) do redis.call('DEL', tagged) end
redis.call('DEL', KEYS[3])
return 1
"""

# KEYS: the value, then per tag its version and its set. A version whose TTL is still within
# quiet of the full one was set (superseded) less than quiet ago.
_WRITE_TAGGED = """
local fresh_after = tonumber(ARGV[3]) - tonumber(ARGV[4])
for i = 2, #KEYS, 2 do
  if redis.call('PTTL', KEYS[i]) > fresh_after then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
for i = 3, #KEYS, 2 do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[2]) then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
  end
end
return 1
"""

_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1])
local at = tonumber(bucket[2])
if tokens == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
elseif rate > 0 then
  wait = (1 - tokens) / rate
else
  wait = -1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
local idle_ms = 60000
if rate > 0 then idle_ms = math.ceil(burst / rate * 1000) + 1000 end
redis.call('PEXPIRE', KEYS[1], idle_ms)
return {allowed, tostring(wait), math.floor(tokens)}
"""


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class RedisState:
    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "gateway:",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry_after_s: float = RETRY_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._prefix = prefix
        self._client: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            health_check_interval=30,
            retry_on_timeout=False,
        )
        self._acquire = self._client.register_script(_ACQUIRE)
        self._release = self._client.register_script(_RELEASE)
        self._token = self._client.register_script(_BUCKET)
        self._write_if_version = self._client.register_script(_WRITE_IF_VERSION)
        self._supersede = self._client.register_script(_SUPERSEDE)
        self._write_tagged = self._client.register_script(_WRITE_TAGGED)
        self._available = True
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._failed_at = -math.inf

    @property
    def available(self) -> bool:
        return self._available

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def _run(self, operation: Awaitable[Any], *, probe: bool = False) -> Any:
        """Run one operation; while Redis was away less than ``retry_after_s`` ago, fail at once
        (without waiting for a timeout per request), except for a probe."""
        resting = self._clock() - self._failed_at < self._retry_after_s
        if not self._available and not probe and resting:
            if inspect.iscoroutine(operation):
                operation.close()  # never awaited: no "coroutine was never awaited" warning
            raise StateUnavailable("redis: unavailable (retrying shortly)")
        try:
            result = await operation
        except (RedisError, OSError) as exc:
            self._available = False
            self._failed_at = self._clock()
            raise StateUnavailable(f"redis: {type(exc).__name__}") from exc
        self._available = True
        return result

    async def get(self, key: str) -> bytes | None:
        value: bytes | None = await self._run(self._client.get(self._key(key)))
        return value

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s > 0:
            await self._run(self._client.set(self._key(key), value, px=_ms(ttl_s)))

    async def delete(self, key: str) -> None:
        await self._run(self._client.delete(self._key(key)))

    async def read_versioned(self, key: str) -> tuple[bytes | None, bytes]:
        value, version = await self._run(
            self._client.mget(self._key(key), self._key(version_key(key)))
        )
        return value, version or b""

    async def write_if_version(self, key: str, value: bytes, ttl_s: float, version: bytes) -> bool:
        if ttl_s <= 0:
            return False
        keys = [self._key(key), self._key(version_key(key))]
        return bool(
            await self._run(self._write_if_version(keys=keys, args=[value, _ms(ttl_s), version]))
        )

    async def supersede(self, key: str) -> None:
        keys = [self._key(key), self._key(version_key(key)), self._key(tagged_key(key))]
        await self._run(self._supersede(keys=keys, args=[_ms(VERSION_TTL_S)]))

    async def write_tagged(
        self, key: str, value: bytes, ttl_s: float, tags: Sequence[str], quiet_s: float
    ) -> bool:
        if ttl_s <= 0:
            return False
        keys = [self._key(key)]
        for tag in tags:
            keys += [self._key(version_key(tag)), self._key(tagged_key(tag))]
        args: list[bytes | int] = [value, _ms(ttl_s), _ms(VERSION_TTL_S), _ms(quiet_s)]
        return bool(await self._run(self._write_tagged(keys=keys, args=args)))

    async def add_once(self, key: str, ttl_s: float) -> bool:
        return bool(await self._run(self._client.set(self._key(key), b"1", px=_ms(ttl_s), nx=True)))

    async def acquire(self, key: str, owner: str, ttl_s: float) -> bool:
        return bool(await self._run(self._acquire(keys=[self._key(key)], args=[owner, _ms(ttl_s)])))

    async def release(self, key: str, owner: str) -> bool:
        return bool(await self._run(self._release(keys=[self._key(key)], args=[owner])))

    async def take_token(self, key: str, rate_per_s: float, burst: int) -> TokenVerdict:
        allowed, wait, remaining = await self._run(
            self._token(keys=[self._key(key)], args=[repr(float(rate_per_s)), burst])
        )
        retry = float(wait)
        return TokenVerdict(
            allowed=bool(allowed),
            retry_after_s=math.inf if retry < 0 else retry,
            remaining=int(remaining),
        )

    async def ping(self) -> bool:
        try:
            await self._run(self._client.ping(), probe=True)
        except StateUnavailable:
            return False
        return True

    async def aclose(self) -> None:
        await self._client.aclose()
