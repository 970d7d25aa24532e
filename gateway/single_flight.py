"""Single flight: concurrent callers of one key share one task (the store's fetches, decisions)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Hashable
    from typing import Any

__all__ = ["SingleFlight"]

K = TypeVar("K", bound="Hashable")
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """At most one task per key at a time; the key is free again once its task ends."""

    def __init__(self) -> None:
        self._tasks: dict[K, asyncio.Task[V]] = {}

    def join(
        self, key: K, start: Callable[[], Coroutine[Any, Any, V]]
    ) -> tuple[asyncio.Future[V], bool]:
        """The key's shared result, and whether another caller had started it already.

        ``start`` runs only when no task holds the key. The result is shielded: one caller
        giving up (a cancelled request) must not cancel the work others wait on.
        """
        task = self._tasks.get(key)
        joined = task is not None
        if task is None:
            task = asyncio.create_task(start())
            self._tasks[key] = task
            task.add_done_callback(lambda _: self._tasks.pop(key, None))
        return asyncio.shield(task), joined
