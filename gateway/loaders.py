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
        self._by_source: dict[str, DataLoader[str, Execution]] = {}

    def execution(self, source: str, native_id: str) -> asyncio.Future[Execution]:
        return self._loader(source).load(native_id)

    def prime(self, source: str, execution: Execution) -> None:
        self._loader(source).prime(execution.native_id, execution)

    def forget(self, source: str, native_id: str) -> None:
        self._loader(source).clear(native_id)

    def _loader(self, source: str) -> DataLoader[str, Execution]:
        loader = self._by_source.get(source)
        if loader is None:
            loader = DataLoader(self._batch_fn(source))
            self._by_source[source] = loader
        return loader

    def _batch_fn(self, source: str):  # type: ignore[no-untyped-def]
        store, stats, on_batch = self._store, self._stats[source], self._on_batch

        async def load_batch(keys: list[str]) -> list[Execution | Exception]:
            stats.record_batch(len(keys))
            if on_batch is not None:
                on_batch(source, len(keys))
            results = await asyncio.gather(
                *(store.load(source, key) for key in keys), return_exceptions=True
            )
            answers: list[Execution | Exception] = []
            loader = self._by_source[source]
            for result in results:
                if isinstance(result, Exception):
                    answers.append(result)
                elif isinstance(result, BaseException):
                    raise result
                else:
                    first, *descendants = result
                    for descendant in descendants:
                        loader.prime(descendant.native_id, descendant)
                    answers.append(first)
            return answers

        return load_batch
