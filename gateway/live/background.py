"""Background work the live layer starts (re-reads after webhooks, polls): observed, bounded
by its owner, cancelled at shutdown.

Each task runs in a fresh ``contextvars`` context: one started while a request is being served
must not inherit that request's deadline (gateway/http/deadline.py) and time out with it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Coroutine

__all__ = ["Background"]

log = logging.getLogger("gateway.live")


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.failures = 0

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(
            work, name=name, context=contextvars.Context()
        )
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self.failures += 1
            log.error(
                "live background task failed", exc_info=error, extra={"task": task.get_name()}
            )

    def __len__(self) -> int:
        return len(self._tasks)

    async def aclose(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
