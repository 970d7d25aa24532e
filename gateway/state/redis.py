"""Shared state in Redis, for several replicas: the same meaning as ``memory``, atomic across them.

redis-py's asyncio client with its own connection pool. Locks and the token bucket are Lua
scripts, so each is one atomic step on the server and reads the server's clock, never a replica's.
Any failure to reach Redis raises ``StateUnavailable`` and marks the backend unavailable until
an operation succeeds again; the client reconnects by itself.

Redis is data, not truth: anyone who can reach it can write to it. Every value the gateway stores
is sealed with an HMAC of its key and bytes (keyed by a secret every replica shares), and a value
read back that does not open is dropped, never returned. A key holding the wrong kind of value, a
lock or version that outlives any TTL the gateway sets, a token bucket with impossible numbers:
each is a bad entry, dropped inside the same script that met it and counted in ``bad_entries``.
None of them is Redis being away: only a failure to reach it (or Redis refusing work) is.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import inspect
import logging
import math
import time
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from gateway.state.base import (
    VERSION_TTL_S,
    StateUnavailable,
    TokenVerdict,
    entry_kind,
    tagged_key,
    version_key,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

__all__ = ["RedisState", "seal_key"]

log = logging.getLogger("gateway.state")

DEFAULT_TIMEOUT_S = 1.0
RETRY_AFTER_S = 1.0
"""After a failure, operations fail at once for this long; then the next one tries Redis again."""
SEAL_MARK = b"s1"
SEAL_BYTES = 16
"""A truncated HMAC-SHA256: 128 bits, far past guessing."""
_SEAL_LABEL = b"execution-gateway redis seal v1"
OPEN_KINDS = frozenset({"fingerprint"})
"""Kinds sealed without the secret: a replica configured with another secret must still read
the others' fingerprints, to refuse to start and say why (a fingerprint is itself an HMAC)."""


def seal_key(secret: str | None) -> bytes:
    """The sealing key for a shared secret (the cursor secret: the config requires one with Redis).

    Derived, so the secret itself signs nothing here; without one, values are still bound to their
    key and checked for form, but not authenticated."""
    return hmac.new((secret or "").encode(), _SEAL_LABEL, hashlib.sha256).digest()


# Every script starts with this: `fit` drops a key holding another kind of value than the one
# the script is about to use (which would make Redis refuse the whole script), and lists it.
_FIT = """
local bad = {}
local function fit(key, kind)
  local found = redis.call('TYPE', key)['ok']
  if found == 'none' or found == kind then return true end
  redis.call('DEL', key)
  table.insert(bad, key)
  return false
end
"""

# A lock that never expires, or outlives the TTL asked for, was not set by a gateway.
_ACQUIRE = (
    _FIT
    + """
if fit(KEYS[1], 'string') then
  local left = redis.call('PTTL', KEYS[1])
  if left == -1 or left > tonumber(ARGV[2]) then
    redis.call('DEL', KEYS[1])
    table.insert(bad, KEYS[1])
  end
end
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, bad}
end
if held then return {0, bad} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, bad}
"""
)

# Also the conditional drop of a value that did not open: only if it is still that value.
_RELEASE = """
if redis.call('TYPE', KEYS[1])['ok'] ~= 'string' then return 0 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# A version of the wrong kind refuses this write (the value may be older than it).
_WRITE_IF_VERSION = (
    _FIT
    + """
if not fit(KEYS[2], 'string') then return {0, bad} end
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[3] then return {0, bad} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, bad}
"""
)

# A version that is not a counter restarts from the server's clock in microseconds, a number no
# reader can hold. Only answers (under ARGV[2]) listed in the tag's set are dropped.
# The tagged values are named in the tag's set, not in KEYS: fine on one Redis, not on a cluster.
_SUPERSEDE = (
    _FIT
    + """
redis.call('DEL', KEYS[1])
if fit(KEYS[2], 'string') then
  local version = redis.call('GET', KEYS[2])
  if version and (#version > 17 or not string.match(version, '^%d+$')) then
    local clock = redis.call('TIME')
    redis.call('SET', KEYS[2], clock[1] .. string.format('%06d', tonumber(clock[2])))
    table.insert(bad, KEYS[2])
  end
end
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
if fit(KEYS[3], 'set') then
  for _, tagged in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    if string.sub(tagged, 1, #ARGV[2]) == ARGV[2] then redis.call('DEL', tagged) end
  end
end
redis.call('DEL', KEYS[3])
return bad
"""
)

# KEYS: the value, then per tag its version and its set. A version whose TTL is still within
# quiet of the full one was set (superseded) less than quiet ago; one with no TTL or a longer one
# was not set by a gateway: it is given the full TTL (so it reads as just superseded).
_WRITE_TAGGED = (
    _FIT
    + """
local full = tonumber(ARGV[3])
local fresh_after = full - tonumber(ARGV[4])
local refused = false
for i = 2, #KEYS, 2 do
  local left = redis.call('PTTL', KEYS[i])
  if left == -1 or left > full then
    redis.call('PEXPIRE', KEYS[i], full)
    table.insert(bad, KEYS[i])
    left = full
  end
  if left > fresh_after then refused = true end
end
if refused then return {0, bad} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
for i = 3, #KEYS, 2 do
  fit(KEYS[i], 'set')
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[2]) then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
  end
end
return {1, bad}
"""
)

# A bucket whose numbers the script could not have written (not numbers, infinite, negative, or
# last touched in the future) starts full again, as a new one would.
_BUCKET = (
    _FIT
    + """
local function odd(x) return x == nil or x ~= x or x == math.huge or x == -math.huge end
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local tokens, at = nil, nil
if fit(KEYS[1], 'hash') then
  local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
  tokens = tonumber(bucket[1])
  at = tonumber(bucket[2])
  if redis.call('EXISTS', KEYS[1]) == 1
      and (odd(tokens) or odd(at) or tokens < 0 or at > now + 1) then
    redis.call('DEL', KEYS[1])
    table.insert(bad, KEYS[1])
    tokens = nil
  end
end
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
return {allowed, tostring(wait), math.floor(tokens), bad}
"""
)


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class _WrongType(StateUnavailable):
    """Redis answered, but the key holds another kind of value than the command reads."""


class RedisState:
    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        prefix: str = "gateway:",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry_after_s: float = RETRY_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._prefix = prefix
        self._seal_key = seal_key(secret)
        self._open_key = seal_key(None)
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
        self.bad_entries: collections.Counter[str] = collections.Counter()

    @property
    def available(self) -> bool:
        return self._available

    def _key(self, key: str) -> str:
        return self._prefix + key

    def _seal(self, key: str, value: bytes) -> bytes:
        return SEAL_MARK + self._mac(key, value) + value

    def _mac(self, key: str, value: bytes) -> bytes:
        name = key.encode()
        material = len(name).to_bytes(4, "big") + name + value
        sealer = self._open_key if entry_kind(key) in OPEN_KINDS else self._seal_key
        return hmac.digest(sealer, material, "sha256")[:SEAL_BYTES]

    def _open(self, key: str, stored: bytes) -> bytes | None:
        """The value sealed under ``key``; None for anything a gateway with this secret did not
        write there (planted, copied from another key, cut short)."""
        if not stored.startswith(SEAL_MARK) or len(stored) < len(SEAL_MARK) + SEAL_BYTES:
            return None
        mac = stored[len(SEAL_MARK) : len(SEAL_MARK) + SEAL_BYTES]
        value = stored[len(SEAL_MARK) + SEAL_BYTES :]
        return value if hmac.compare_digest(mac, self._mac(key, value)) else None

    def _counted(self, bad: Sequence[bytes], kind: str | None = None) -> None:
        for full in bad:
            self._bad(full.decode("utf-8", "replace").removeprefix(self._prefix), kind)

    def _bad(self, key: str, kind: str | None = None) -> None:
        kind = kind or entry_kind(key)
        self.bad_entries[kind] += 1
        log.warning("dropped a bad %s entry from redis", kind, extra={"kind": kind})

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
        except ResponseError as exc:
            if str(exc).startswith("WRONGTYPE"):
                self._available = True  # it answered: the entry is bad, not Redis
                raise _WrongType(str(exc)) from exc
            self._down()
            raise StateUnavailable(f"redis: {type(exc).__name__}") from exc
        except (RedisError, OSError) as exc:
            self._down()
            raise StateUnavailable(f"redis: {type(exc).__name__}") from exc
        self._available = True
        return result

    def _down(self) -> None:
        self._available = False
        self._failed_at = self._clock()

    async def _opened(self, key: str, stored: bytes | None) -> bytes | None:
        """What a read found, opened; a value that does not open is dropped (unless it changed
        since) and counted."""
        if stored is None:
            return None
        value = self._open(key, stored)
        if value is None:
            await self._run(self._release(keys=[self._key(key)], args=[stored]))
            self._bad(key)
        return value

    async def get(self, key: str) -> bytes | None:
        try:
            stored: bytes | None = await self._run(self._client.get(self._key(key)))
        except _WrongType:
            await self._run(self._client.delete(self._key(key)))
            self._bad(key)
            return None
        return await self._opened(key, stored)

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s > 0:
            await self._run(self._client.set(self._key(key), self._seal(key, value), px=_ms(ttl_s)))

    async def delete(self, key: str) -> None:
        await self._run(self._client.delete(self._key(key)))

    async def read_versioned(self, key: str) -> tuple[bytes | None, bytes]:
        # MGET reads a key of another kind as absent: the write after it replaces it.
        stored, version = await self._run(
            self._client.mget(self._key(key), self._key(version_key(key)))
        )
        return await self._opened(key, stored), version or b""

    async def write_if_version(self, key: str, value: bytes, ttl_s: float, version: bytes) -> bool:
        if ttl_s <= 0:
            return False
        keys = [self._key(key), self._key(version_key(key))]
        args: list[bytes | int] = [self._seal(key, value), _ms(ttl_s), version]
        written, bad = await self._run(self._write_if_version(keys=keys, args=args))
        self._counted(bad)
        return bool(written)

    async def supersede(self, key: str) -> None:
        keys = [self._key(key), self._key(version_key(key)), self._key(tagged_key(key))]
        args: list[int | str] = [_ms(VERSION_TTL_S), self._prefix + "answer:"]
        self._counted(await self._run(self._supersede(keys=keys, args=args)))

    async def write_tagged(
        self, key: str, value: bytes, ttl_s: float, tags: Sequence[str], quiet_s: float
    ) -> bool:
        if ttl_s <= 0:
            return False
        keys = [self._key(key)]
        for tag in tags:
            keys += [self._key(version_key(tag)), self._key(tagged_key(tag))]
        args: list[bytes | int] = [
            self._seal(key, value),
            _ms(ttl_s),
            _ms(VERSION_TTL_S),
            _ms(quiet_s),
        ]
        written, bad = await self._run(self._write_tagged(keys=keys, args=args))
        self._counted(bad)
        return bool(written)

    async def add_once(self, key: str, ttl_s: float) -> bool:
        marker = self._seal(key, b"")
        return bool(
            await self._run(self._client.set(self._key(key), marker, px=_ms(ttl_s), nx=True))
        )

    async def acquire(self, key: str, owner: str, ttl_s: float) -> bool:
        held, bad = await self._run(self._acquire(keys=[self._key(key)], args=[owner, _ms(ttl_s)]))
        self._counted(bad)
        return bool(held)

    async def release(self, key: str, owner: str) -> bool:
        return bool(await self._run(self._release(keys=[self._key(key)], args=[owner])))

    async def take_token(self, key: str, rate_per_s: float, burst: int) -> TokenVerdict:
        allowed, wait, remaining, bad = await self._run(
            self._token(keys=[self._key(key)], args=[repr(float(rate_per_s)), burst])
        )
        self._counted(bad, "bucket")
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
