"""Whole answers shared by replicas through the state backend, behind each replica's own cache.

A replica answers from its own ``ResponseCache`` first. On a miss it asks Redis once, and an
answer it computes and keeps is written there for the others (after it has been sent). Each shared
answer is tagged with the executions it holds (their shared keys), so superseding one (a webhook,
a decision: ``ExecutionStore.invalidate``) drops every shared answer holding it in the same Redis
step. An answer holding an execution superseded less than ``quiet_s`` ago is not shared: it may
have been computed from the state before that change, by a request that began before it.

A request asked before and found not cacheable (a running execution, an error, a live field) does
not ask Redis again while it is remembered as such: the Redis read is paid by requests that may
hit, not by every uncached one.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

import orjson
from cachetools import LRUCache

from gateway.core.response_cache import CacheCounters, CachedAnswer, entity_tag
from gateway.core.store import shared_key
from gateway.state.base import StateUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable

    from gateway.state.base import SharedState

__all__ = ["SharedAnswers", "answer_key"]

UNCACHEABLE_REMEMBERED = 10_000


def answer_key(key: str) -> str:
    return f"answer:{key}"


class SharedAnswers:
    def __init__(
        self,
        state: SharedState,
        *,
        quiet_s: float,
        counters: CacheCounters | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._state = state
        self._quiet_s = quiet_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._uncacheable: LRUCache[str, bool] = LRUCache(maxsize=UNCACHEABLE_REMEMBERED)
        self.counters = counters or CacheCounters()

    def worth_asking(self, key: str) -> bool:
        return key not in self._uncacheable

    def not_cacheable(self, key: str) -> None:
        """The request under ``key`` was answered and its answer is not to be kept."""
        self._uncacheable[key] = True

    async def get(self, key: str) -> CachedAnswer | None:
        """Another replica's answer, with the time it has left on this replica's clock; None on a
        miss or when Redis is away."""
        try:
            payload = await self._state.get(answer_key(key))
        except StateUnavailable:
            return None
        answer = self._decode(payload) if payload is not None else None
        if answer is not None:
            self.counters.shared_hits += 1
        return answer

    async def put(self, key: str, answer: CachedAnswer) -> None:
        """Share an answer this replica keeps (Redis away: the others compute it themselves)."""
        self._uncacheable.pop(key, None)
        ttl_s = answer.expires_at - self._clock()
        header = {
            "type": answer.content_type.decode("latin-1"),
            "tags": sorted(answer.tags),
            "expires": self._wall_clock() + ttl_s,
        }
        payload = orjson.dumps(header) + b"\n" + answer.body
        tags = [shared_key(source, native_id) for source, native_id in sorted(answer.tags)]
        with contextlib.suppress(StateUnavailable):
            if await self._state.write_tagged(answer_key(key), payload, ttl_s, tags, self._quiet_s):
                self.counters.shared_stores += 1

    def _decode(self, payload: bytes) -> CachedAnswer | None:
        head, separator, body = payload.partition(b"\n")
        if not separator:
            return None
        try:
            header = orjson.loads(head)
            ttl_s = float(header["expires"]) - self._wall_clock()
            tags = frozenset((str(s), str(n)) for s, n in header["tags"])
            content_type = str(header["type"]).encode("latin-1")
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None
        if ttl_s <= 0:
            return None
        return CachedAnswer(
            body=body,
            etag=entity_tag(body),
            expires_at=self._clock() + ttl_s,
            tags=tags,
            content_type=content_type,
        )
