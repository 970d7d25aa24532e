"""The cross-request execution store: a bounded, status-aware cache plus single flight.

Keyed by (source name, native id): a source's credentials are the gateway's own, so an entry is
the same for every caller and never crosses sources. Terminal executions live long, others
briefly; a source's ``cache_ttl_s`` overrides both. Errors are never cached. Concurrent misses
for one key, from any number of requests, share one upstream call.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from cachetools import TLRUCache

from gateway.core.background import Background
from gateway.core.single_flight import SingleFlight
from gateway.state.base import StateUnavailable
from gateway.state.codec import decode_execution, encode_execution

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from adapters.base import SourceAdapter
    from adapters.model import Execution
    from gateway.config import CacheConfig, SourceConfig
    from gateway.ops.stats import SourceStats
    from gateway.state.base import SharedState

__all__ = ["ExecutionStore", "retrieve_outcome", "shared_key"]

Key = tuple[str, str]


def shared_key(source: str, native_id: str) -> str:
    return f"execution:{source}:{native_id}"


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
        shared: SharedState | None = None,
        background: Background | None = None,
    ) -> None:
        self._config = cache
        self._sources = sources
        self._adapters = adapters
        self._stats = stats
        self._cache: TLRUCache[Key, Execution] = TLRUCache(
            maxsize=max(1, cache.max_entries), ttu=self._expires, timer=timer
        )
        self._fetches: SingleFlight[Key, list[Execution]] = SingleFlight()
        self._shared = shared
        """Where replicas share finished executions (Redis); None in one process."""
        self._background = background or Background()
        self.on_invalidate: list[Callable[[str, str], object]] = []
        """Told of every execution dropped (a decision, a webhook): the response cache listens."""

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
        shared = await self._shared_read(source, native_id)
        if shared is not None:
            self._stats[source].shared_hits += 1
            if self._cache.maxsize:
                self._cache[key] = shared
            return [shared]
        executions = await self._adapters[source].get_tree(native_id)
        for execution in executions:
            kept_for = self.ttl(source, execution)
            if self._cache.maxsize and kept_for > 0:
                self._cache[(source, execution.native_id)] = execution
            if self._shared is not None and execution.is_terminal and kept_for > 0:
                await self._share(source, execution, kept_for)
        return executions

    async def _share(self, source: str, execution: Execution, ttl_s: float) -> None:
        """Written before the answer leaves, so a replica asked next finds it (one Redis write,
        for finished executions only); Redis away only means the next replica reads upstream."""
        assert self._shared is not None
        with contextlib.suppress(StateUnavailable):
            await self._shared.set(
                shared_key(source, execution.native_id), encode_execution(execution), ttl_s
            )

    async def _shared_read(self, source: str, native_id: str) -> Execution | None:
        """A finished execution another replica already read; None when absent or Redis is away."""
        if self._shared is None:
            return None
        try:
            payload = await self._shared.get(shared_key(source, native_id))
        except StateUnavailable:
            return None
        if payload is None:
            return None
        execution = decode_execution(payload)
        return execution if execution is not None and execution.is_terminal else None

    def put(self, source: str, execution: Execution) -> None:
        """Keep an execution learnt another way (a list page), under the same TTL rules."""
        if self.ttl(source, execution) > 0:
            self._cache[(source, execution.native_id)] = execution

    def invalidate(self, source: str, native_id: str) -> None:
        """Forget one execution, e.g. after a decision changed it upstream."""
        self._cache.pop((source, native_id), None)
        if self._shared is not None:
            self._background.spawn(
                self._shared.delete(shared_key(source, native_id)),
                "dropping a shared execution",
            )
        for listener in self.on_invalidate:
            listener(source, native_id)

    def __len__(self) -> int:
        return len(self._cache)
