"""Tasks the gateway starts and does not wait for: kept referenced, and every ending observed.

asyncio holds only weak references to tasks, and a task that fails with nobody awaiting it logs
"Task exception was never retrieved" at ERROR when it is collected. Work handed here (a write to
the shared cache after answering, a re-read after a webhook, a poll) is kept alive until it ends,
and its failure is counted and logged once, at the level its owner chose, with what it was doing.

Each task runs in a fresh ``contextvars`` context: one started while a request is being served
must not inherit that request's deadline (gateway/http/deadline.py) or call budget and die with
them.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Coroutine

__all__ = ["Background"]

log = logging.getLogger("gateway.background")


class Background:
    def __init__(self, *, level: int = logging.WARNING) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._level = level
        self.failures = 0

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(
            work, name=what, context=contextvars.Context()
        )
        self._tasks.add(task)
        task.add_done_callback(self._ended)
        return task

    def _ended(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self.failures += 1
            log.log(
                self._level,
                "%s failed: %s",
                task.get_name(),
                error,
                exc_info=error if self._level >= logging.ERROR else None,
                extra={"task": task.get_name()},
            )

    async def drain(self) -> None:
        """Wait for what is running (at shutdown), without raising its failures."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel what is running and wait for it to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
