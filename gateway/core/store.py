"""The cross-request execution store: a bounded, status-aware cache plus single flight.

Keyed by (source name, native id): a source's credentials are the gateway's own, so an entry is
the same for every caller and never crosses sources. Terminal executions live long, others
briefly; a source's ``cache_ttl_s`` overrides both. Errors are never cached. Concurrent misses
for one key, from any number of requests, share one upstream call.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from cachetools import TLRUCache

from gateway.core.single_flight import SingleFlight

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from adapters.base import SourceAdapter
    from adapters.model import Execution
    from gateway.config import CacheConfig, SourceConfig
    from gateway.ops.stats import SourceStats

__all__ = ["ExecutionStore", "retrieve_outcome"]

Key = tuple[str, str]


def retrieve_outcome(future: asyncio.Future[Any]) -> None:
    """A done callback that marks a future's exception as retrieved.

    A fetch is shared: the request that started it may have given up (its answer nulled by
    another error) before it fails, and asyncio logs a failure nobody retrieved at ERROR, which
    would let any caller flood the error log. Whoever awaits the future still gets the error.
    """
    if not future.cancelled():
        future.exception()


class ExecutionStore:
    def __init__(
        self,
        *,
        cache: CacheConfig,
        sources: Mapping[str, SourceConfig],
        adapters: Mapping[str, SourceAdapter],
        stats: Mapping[str, SourceStats],
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = cache
        self._sources = sources
        self._adapters = adapters
        self._stats = stats
        self._cache: TLRUCache[Key, Execution] = TLRUCache(
            maxsize=max(1, cache.max_entries), ttu=self._expires, timer=timer
        )
        self._fetches: SingleFlight[Key, list[Execution]] = SingleFlight()

    def ttl(self, source: str, execution: Execution) -> float:
        override = self._sources[source].cache_ttl_s
        if override is not None:
            return override
        return self._config.terminal_ttl_s if execution.is_terminal else self._config.active_ttl_s

    def _expires(self, key: Key, execution: Execution, now: float) -> float:
        return now + self.ttl(key[0], execution)

    def cached(self, source: str, native_id: str) -> Execution | None:
        return self._cache.get((source, native_id))

    def load(self, source: str, native_id: str) -> asyncio.Future[list[Execution]]:
        """The execution first, then any descendants its upstream returned in the same call.

        The shared fetch itself, not a copy: other requests may wait on it, so a caller adds a
        done callback (as the loaders do) or awaits ``asyncio.shield`` of it, and never cancels it.
        """
        key = (source, native_id)
        stats = self._stats[source]
        hit = self._cache.get(key)
        if hit is not None:
            stats.cache_hits += 1
            done: asyncio.Future[list[Execution]] = asyncio.get_running_loop().create_future()
            done.set_result([hit])
            return done
        stats.cache_misses += 1
        fetch, joined = self._fetches.join(key, lambda: self._fetch(key))
        if joined:
            stats.shared_fetches += 1
        else:
            fetch.add_done_callback(retrieve_outcome)
        return fetch

    async def _fetch(self, key: Key) -> list[Execution]:
        source, native_id = key
        executions = await self._adapters[source].get_tree(native_id)
        for execution in executions:
            if self._cache.maxsize and self.ttl(source, execution) > 0:
                self._cache[(source, execution.native_id)] = execution
        return executions

    def put(self, source: str, execution: Execution) -> None:
        """Keep an execution learnt another way (a list page), under the same TTL rules."""
        if self.ttl(source, execution) > 0:
            self._cache[(source, execution.native_id)] = execution

    def invalidate(self, source: str, native_id: str) -> None:
        """Forget one execution, e.g. after a decision changed it upstream."""
        self._cache.pop((source, native_id), None)

    def __len__(self) -> int:
        return len(self._cache)
