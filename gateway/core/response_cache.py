"""Whole answers kept for callers who ask the same thing again: only what can no longer change.

An answer is kept only when the gateway has said it is safe (the schema layer decides: every field
in the operation is one whose value is fixed once its execution is terminal, every execution the
answer read is terminal, and the answer has no error). The key holds the operation's document,
operation name, variables and the caller's visibility, so callers who could see different data
never share an entry. Each entry is tagged with the executions it read: dropping one execution
(a decision, a webhook, an invalidation of the store) drops every answer that holds it.

An answer computed while one of its executions was being dropped would bring the old state back,
so ``put`` takes the ``epoch`` read when the request began and refuses an answer holding an
execution dropped since.

Bounded by entries and by bytes, least recently used first; entries expire after their TTL.
GraphQL-free: keys and bodies are bytes.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

__all__ = ["CacheCounters", "CachedAnswer", "ResponseCache", "answer_key", "entity_tag"]

Tag = tuple[str, str]
"""(source name, native execution id)."""

REMEMBERED_DROPS = 10_000
"""Executions whose last drop is remembered; a request older than a forgotten one stores nothing."""


def answer_key(
    document: str,
    operation_name: str | None,
    variables: Mapping[str, object] | None,
    visibility: Iterable[str],
) -> str:
    """A digest of everything the answer depends on besides the executions themselves."""
    material = orjson.dumps(
        [document, operation_name, variables or {}, sorted(visibility)],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(material).hexdigest()


def entity_tag(body: bytes) -> str:
    """A strong HTTP ETag for an answer's bytes."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    body: bytes
    etag: str
    expires_at: float
    tags: frozenset[Tag]
    content_type: bytes = b"application/json"

    def max_age(self, now: float) -> int:
        return max(0, math.ceil(self.expires_at - now))


@dataclass(slots=True)
class CacheCounters:
    hits: int = 0
    misses: int = 0
    stores: int = 0
    evictions: int = 0
    invalidations: int = 0
    """Answers dropped because an execution they hold changed."""
    refused: int = 0
    """Answers not kept because an execution they hold changed while they were computed."""
    shared_hits: int = 0
    """Answers another replica shared (through Redis) on a miss here."""
    shared_stores: int = 0
    """Answers this replica shared with the others."""


class ResponseCache:
    def __init__(
        self,
        *,
        max_entries: int,
        max_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self.clock = clock
        self._entries: OrderedDict[str, CachedAnswer] = OrderedDict()
        self._by_tag: dict[Tag, set[str]] = {}
        self._bytes = 0
        self.counters = CacheCounters()
        self._epoch = 0
        self._dropped_at: OrderedDict[Tag, int] = OrderedDict()
        """The epoch of each execution's last drop, the most recent last."""
        self._forgotten_until = 0
        """Drops up to this epoch may no longer be in ``_dropped_at``."""

    @property
    def epoch(self) -> int:
        """Moves on at every drop: read it before computing an answer, and give it to ``put``."""
        return self._epoch

    @property
    def enabled(self) -> bool:
        return self._max_entries > 0 and self._max_bytes > 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def get(self, key: str) -> CachedAnswer | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at <= self.clock():
            self._drop(key)
            entry = None
        if entry is None:
            self.counters.misses += 1
            return None
        self._entries.move_to_end(key)
        self.counters.hits += 1
        return entry

    def put(
        self,
        key: str,
        body: bytes,
        tags: Iterable[Tag],
        ttl_s: float,
        content_type: bytes = b"application/json",
        *,
        since: int | None = None,
    ) -> CachedAnswer | None:
        """Keep ``body`` for ``ttl_s`` seconds; None when it is not kept (too big, TTL of 0, or
        one of its executions dropped after the ``since`` epoch its computation began at)."""
        if not self.enabled or ttl_s <= 0 or len(body) > self._max_bytes:
            return None
        tags = frozenset(tags)
        if since is not None and self._dropped_after(since, tags):
            self.counters.refused += 1
            return None
        if key in self._entries:
            self._drop(key)
        entry = CachedAnswer(
            body=body,
            etag=entity_tag(body),
            expires_at=self.clock() + ttl_s,
            tags=tags,
            content_type=content_type,
        )
        self._entries[key] = entry
        self._bytes += len(body)
        for tag in entry.tags:
            self._by_tag.setdefault(tag, set()).add(key)
        self.counters.stores += 1
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)
            self.counters.evictions += 1
        return entry

    def invalidate(self, source: str, native_id: str) -> int:
        """Drop every answer that holds this execution; how many were dropped."""
        tag = (source, native_id)
        self._epoch += 1
        self._dropped_at[tag] = self._epoch
        self._dropped_at.move_to_end(tag)
        if len(self._dropped_at) > REMEMBERED_DROPS:
            _, epoch = self._dropped_at.popitem(last=False)
            self._forgotten_until = epoch
        keys = self._by_tag.pop(tag, set())
        for key in keys:
            self._drop(key)
        self.counters.invalidations += len(keys)
        return len(keys)

    def clear(self) -> None:
        """Drop every answer, and refuse those being computed now."""
        self._epoch += 1
        self._forgotten_until = self._epoch
        self._dropped_at.clear()
        self._entries.clear()
        self._by_tag.clear()
        self._bytes = 0

    def _dropped_after(self, since: int, tags: frozenset[Tag]) -> bool:
        if since >= self._epoch:
            return False  # nothing dropped at all meanwhile: the common case, one comparison
        if since < self._forgotten_until:
            return True
        return any(self._dropped_at.get(tag, 0) > since for tag in tags)

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self._bytes -= len(entry.body)
        for tag in entry.tags:
            holders = self._by_tag.get(tag)
            if holders is not None:
                holders.discard(key)
                if not holders:
                    del self._by_tag[tag]
