"""Per-request DataLoaders, one per source (aiodataloader).

Every key asked for in one tick is de-duplicated and fetched concurrently through the store
(which adds the cross-request cache and single flight; the source's semaphore bounds the
fan-out). Descendants an upstream returns with an execution prime the loader, so a nesting
tree costs one call however deep the query walks it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiodataloader import DataLoader

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from adapters.model import Execution
    from gateway.stats import SourceStats
    from gateway.store import ExecutionStore

__all__ = ["Loaders"]


class Loaders:
    """The request's loaders, created lazily per source."""

    def __init__(
        self,
        store: ExecutionStore,
        stats: Mapping[str, SourceStats],
        on_batch: Callable[[str, int], None] | None = None,
    ) -> None:
        self._store = store
        self._stats = stats
        self._on_batch = on_batch  # (source, batch size) per batch: the metrics' histogram
        self._by_source: dict[str, _SourceLoader] = {}

    def execution(self, source: str, native_id: str) -> asyncio.Future[Execution]:
        return self._loader(source).load(native_id)

    def prime(self, source: str, execution: Execution) -> None:
        self._loader(source).prime(execution.native_id, execution)

    def forget(self, source: str, native_id: str) -> None:
        self._loader(source).clear(native_id)

    def release(self) -> None:
        """Drop every loader and what it holds, once the operation is answered.

        graphql-core's execution context is a reference cycle that holds the request context, so
        without this a request's loaded executions and payloads would wait for the cyclic garbage
        collector; released here, they are freed at once.
        """
        self._by_source.clear()

    def _loader(self, source: str) -> _SourceLoader:
        loader = self._by_source.get(source)
        if loader is None:
            loader = _SourceLoader(source, self._store, self._stats[source], self._on_batch)
            self._by_source[source] = loader
        return loader


class _SourceLoader(DataLoader[str, "Execution"]):
    """One source's loader. Its batch function is a method, not a closure over the loaders:
    a closure would make a reference cycle (loaders → loader → closure → loaders), and then a
    request's whole result (futures, executions, payloads) would wait for the cyclic garbage
    collector instead of being freed when the request ends."""

    def __init__(
        self,
        source: str,
        store: ExecutionStore,
        stats: SourceStats,
        on_batch: Callable[[str, int], None] | None,
    ) -> None:
        super().__init__()
        self._source = source
        self._store = store
        self._stats = stats
        self._on_batch = on_batch

    async def batch_load_fn(self, keys: list[str]) -> list[Execution | Exception]:  # type: ignore[override]
        source = self._source
        self._stats.record_batch(len(keys))
        if self._on_batch is not None:
            self._on_batch(source, len(keys))
        store = self._store
        results = await asyncio.gather(
            *(store.load(source, key) for key in keys), return_exceptions=True
        )
        answers: list[Execution | Exception] = []
        for result in results:
            if isinstance(result, Exception):
                answers.append(result)
            elif isinstance(result, BaseException):
                raise result
            else:
                first, *descendants = result
                for descendant in descendants:
                    self.prime(descendant.native_id, descendant)
                answers.append(first)
        return answers
