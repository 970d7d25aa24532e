"""Per-request loaders, one per source: each execution fetched at most once per request.

The first load of an id starts its fetch through the store at once (the store adds the
cross-request cache and single flight; the source's semaphore bounds the fan-out). Later loads of
the id in the same request share that fetch. Descendants an upstream returns with an execution
prime the loader, so a nesting tree costs one call however deep the query walks it.

These are DataLoaders without the deferred batch call: every upstream gets one id per call, so a
batch would only be N single fetches started a few loop turns later. Measured, that wait (a
scheduled callback, a task per dispatch and one per batch) put the first of 20 upstream sends
0.3 ms later, and 20 executions' answer 0.6 ms later (docs/performance.md). The keys asked for
in one loop turn are still counted as one batch, for the stats and the metrics.
"""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING

from adapters.errors import ExecutionNotFound
from gateway.core.futures import fail, then

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from adapters.model import Execution
    from gateway.core.scope import ClientScope
    from gateway.core.store import ExecutionStore
    from gateway.ops.stats import SourceStats

__all__ = ["Loaders", "SourceLoader"]


def _not_found(source: str, native_id: str) -> asyncio.Future[Execution]:
    future: asyncio.Future[Execution] = asyncio.get_running_loop().create_future()
    fail(future, ExecutionNotFound(source=source, native_id=native_id))
    return future


def _no_partition(execution: Execution) -> str | None:
    return None


class Loaders:
    """The request's loaders, created lazily per source."""

    def __init__(
        self,
        store: ExecutionStore,
        stats: Mapping[str, SourceStats],
        on_batch: Callable[[str, int], None] | None = None,
        *,
        scope: ClientScope | None = None,
        partitions: Mapping[str, Callable[[Execution], str | None]] | None = None,
    ) -> None:
        """``scope``: what the caller may read (gateway/core/scope.py); ``partitions``: each
        source's ``partition`` reader, which a scope's partitions are checked with."""
        self._store = store
        self._stats = stats
        self._on_batch = on_batch  # (source, batch size) per batch: the metrics' histogram
        self._by_source: dict[str, SourceLoader] = {}
        self._scope = scope
        self._partitions = partitions or {}

    @property
    def scope(self) -> ClientScope | None:
        return self._scope

    def scoped(
        self,
        scope: ClientScope | None,
        partitions: Mapping[str, Callable[[Execution], str | None]],
    ) -> Loaders:
        """Fresh loaders over the same store, holding ``scope`` (what the gate hands every
        admitted operation whose loaders do not already hold its caller's scope)."""
        return Loaders(self._store, self._stats, self._on_batch, scope=scope, partitions=partitions)

    def execution(self, source: str, native_id: str) -> asyncio.Future[Execution]:
        """The execution, once; out of the caller's scope it is ``ExecutionNotFound``, as an id
        that does not exist is (every read of an execution passes here)."""
        scope = self._scope
        if scope is None:
            return self._loader(source).load(native_id)
        if not scope.has_source(source):
            return _not_found(source, native_id)
        loaded = self._loader(source).load(native_id)
        return then(loaded, functools.partial(self._in_scope, source, native_id))

    def _in_scope(self, source: str, native_id: str, execution: Execution) -> Execution:
        assert self._scope is not None
        partition_of = self._partitions.get(source, _no_partition)
        if self._scope.allows(source, execution, partition_of):
            return execution
        raise ExecutionNotFound(source=source, native_id=native_id)

    def prime(self, source: str, execution: Execution) -> None:
        self._loader(source).prime(execution)

    def forget(self, source: str, native_id: str) -> None:
        self._loader(source).forget(native_id)

    def release(self) -> None:
        """Drop every loader and what it holds, once the operation is answered.

        graphql-core's execution context is a reference cycle that holds the request context, so
        without this a request's loaded executions and payloads would wait for the cyclic garbage
        collector; released here, they are freed at once.
        """
        self._by_source.clear()

    def loaded(self) -> Iterator[tuple[str, Execution]]:
        """Every execution this request has read so far, with its source (the answer's tags)."""
        for source, loader in self._by_source.items():
            for execution in loader.loaded():
                yield source, execution

    def _loader(self, source: str) -> SourceLoader:
        loader = self._by_source.get(source)
        if loader is None:
            loader = SourceLoader(source, self._store, self._stats[source], self._on_batch)
            self._by_source[source] = loader
        return loader


class SourceLoader:
    """One source's executions for one request, by native id."""

    __slots__ = ("_futures", "_on_batch", "_source", "_stats", "_store", "_turn_keys")

    def __init__(
        self,
        source: str,
        store: ExecutionStore,
        stats: SourceStats,
        on_batch: Callable[[str, int], None] | None,
    ) -> None:
        self._source = source
        self._store = store
        self._stats = stats
        self._on_batch = on_batch
        self._futures: dict[str, asyncio.Future[Execution]] = {}
        self._turn_keys = 0

    def load(self, native_id: str) -> asyncio.Future[Execution]:
        """The execution's future: the first load starts the fetch, later ones share it."""
        future = self._futures.get(native_id)
        if future is not None:
            return future
        # A request that gives up cancels only its own view; its failure is marked retrieved,
        # since its resolver may be gone (the answer nulled by another error).
        future = self._futures[native_id] = then(
            self._store.load(self._source, native_id), self._adopt
        )
        self._turn_keys += 1
        if self._turn_keys == 1:
            asyncio.get_running_loop().call_soon(self._count_batch)
        return future

    def prime(self, execution: Execution) -> None:
        """Known already (a tree's descendant): later loads answer without a call."""
        if execution.native_id not in self._futures:
            future = asyncio.get_running_loop().create_future()
            future.set_result(execution)
            self._futures[execution.native_id] = future

    def forget(self, native_id: str) -> None:
        """The next load fetches again (after a decision changed the execution upstream)."""
        self._futures.pop(native_id, None)

    def loaded(self) -> Iterator[Execution]:
        for future in self._futures.values():
            if future.done() and not future.cancelled() and future.exception() is None:
                yield future.result()

    def _count_batch(self) -> None:
        size, self._turn_keys = self._turn_keys, 0
        self._stats.record_batch(size)
        if self._on_batch is not None:
            self._on_batch(self._source, size)

    def _adopt(self, fetched: list[Execution]) -> Execution:
        """The fetched execution; the descendants its upstream returned with it are primed."""
        first, *descendants = fetched
        for descendant in descendants:
            self.prime(descendant)
        return first
