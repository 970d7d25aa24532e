"""Whole answers shared by replicas through the state backend, behind each replica's own cache.

A replica answers from its own ``ResponseCache`` first. On a miss it asks Redis once, and an
answer it computes and keeps is written there for the others (after it has been sent). Each shared
answer is tagged with the executions it holds (their shared keys), so superseding one (a webhook,
a decision: ``ExecutionStore.invalidate``) drops every shared answer holding it in the same Redis
step. An answer holding an execution superseded less than ``quiet_s`` ago is not shared: it may
have been computed from the state before that change, by a request that began before it.

What comes back from Redis is checked before it is served: the state backend refuses anything a
gateway did not seal, and this module refuses a sealed answer it could not have written (a
content type outside ``ANSWER_CONTENT_TYPES``, a lifetime beyond ``max_ttl_s``, a body that is not
a JSON object, tags that are not pairs of strings), counting it as a bad ``answer`` entry.

A request asked before and found not cacheable (a running execution, an error, a live field) does
not ask Redis again while it is remembered as such: the Redis read is paid by requests that may
hit, not by every uncached one.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import TYPE_CHECKING

import orjson
from cachetools import LRUCache

from gateway.core.response_cache import CacheCounters, CachedAnswer, entity_tag
from gateway.core.store import shared_key
from gateway.state.base import StateUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from gateway.config import CacheConfig, SourceConfig
    from gateway.state.base import SharedState

__all__ = ["ANSWER_CONTENT_TYPES", "SharedAnswers", "answer_key", "longest_answer_ttl_s"]

UNCACHEABLE_REMEMBERED = 10_000
ANSWER_CONTENT_TYPES = frozenset(
    {
        b"application/json",
        b"application/json; charset=utf-8",
        b"application/graphql-response+json",
        b"application/graphql-response+json; charset=utf-8",
    }
)
"""The media types a GraphQL answer is sent with: a shared answer claiming another is not ours."""
DEFAULT_MAX_TTL_S = 86_400.0
CLOCK_SLACK_S = 5.0
"""How far replicas' wall clocks may disagree (expiry times cross between them)."""
MAX_TAGS = 10_000
"""More executions than one answer could hold (the query limits bound it far lower)."""


def longest_answer_ttl_s(cache: CacheConfig, sources: Iterable[SourceConfig]) -> float:
    """The longest an answer can be kept: its TTL is its executions' shortest, each at most this."""
    overrides = [s.cache_ttl_s for s in sources if s.cache_ttl_s is not None]
    return max([cache.terminal_ttl_s, cache.active_ttl_s, *overrides])


def answer_key(key: str) -> str:
    return f"answer:{key}"


class SharedAnswers:
    def __init__(
        self,
        state: SharedState,
        *,
        quiet_s: float,
        max_ttl_s: float = DEFAULT_MAX_TTL_S,
        counters: CacheCounters | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._state = state
        self._quiet_s = quiet_s
        self._max_ttl_s = max_ttl_s
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
        if payload is None:
            return None
        try:
            answer = self._decode(payload)
        except _NotOurs:
            self._state.bad_entries["answer"] += 1
            return None
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
        """The answer ``put`` wrote (None once expired on this replica's clock); ``_NotOurs`` for
        anything ``put`` could not have written."""
        head, separator, body = payload.partition(b"\n")
        if not separator or not body.startswith(b"{"):
            raise _NotOurs
        try:
            header = orjson.loads(head)
            expires = header["expires"]
            tags = header["tags"]
            content_type = header["type"].encode("latin-1")
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, UnicodeError):
            raise _NotOurs from None
        if content_type not in ANSWER_CONTENT_TYPES or not _pairs_of_strings(tags):
            raise _NotOurs
        if not isinstance(expires, float | int) or isinstance(expires, bool):
            raise _NotOurs
        ttl_s = float(expires) - self._wall_clock()
        if not math.isfinite(ttl_s) or ttl_s > self._max_ttl_s + CLOCK_SLACK_S:
            raise _NotOurs  # longer than this gateway keeps any answer
        if ttl_s <= 0:
            return None
        return CachedAnswer(
            body=body,
            etag=entity_tag(body),
            expires_at=self._clock() + ttl_s,
            tags=frozenset((source, native_id) for source, native_id in tags),
            content_type=content_type,
        )


class _NotOurs(Exception):
    """A shared answer ``put`` could not have written."""


def _pairs_of_strings(tags: object) -> bool:
    return (
        isinstance(tags, list)
        and len(tags) <= MAX_TAGS
        and all(
            isinstance(tag, list) and len(tag) == 2 and all(isinstance(p, str) for p in tag)
            for tag in tags
        )
    )
