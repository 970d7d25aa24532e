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
    ) -> tuple[asyncio.Task[V], bool]:
        """The key's shared task, and whether another caller had started it already.

        ``start`` runs only when no task holds the key. The task is shared: a caller that awaits
        it awaits ``asyncio.shield(task)``, so giving up (a cancelled request) cannot cancel the
        work others wait on; a caller that only adds a done callback needs no shield.
        """
        task = self._tasks.get(key)
        joined = task is not None
        if task is None:
            task = asyncio.create_task(start())
            self._tasks[key] = task
            task.add_done_callback(lambda done: self._free(key, done))
        return task, joined

    def holds(self, key: K, task: asyncio.Task[Any] | None) -> bool:
        """Whether ``task`` is still the one callers of ``key`` join (not forgotten since)."""
        return task is not None and self._tasks.get(key) is task

    def forget(self, key: K) -> None:
        """Let the next caller of ``key`` start afresh; the running task goes on for its joiners."""
        self._tasks.pop(key, None)

    def forget_all(self) -> None:
        self._tasks.clear()

    def _free(self, key: K, done: asyncio.Task[V]) -> None:
        if self._tasks.get(key) is done:  # not a newer task started after a forget
            del self._tasks[key]
