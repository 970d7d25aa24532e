"""Tasks the gateway starts and does not wait for: kept referenced, and every ending observed.

asyncio holds only weak references to tasks, and a task that fails with nobody awaiting it logs
"Task exception was never retrieved" at ERROR when it is collected. Work handed here (a write to
the shared cache after answering, a delete after a decision) is kept alive until it ends, and its
failure is logged once, at the level the caller chose, with what it was doing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Coroutine

__all__ = ["Background"]

log = logging.getLogger("gateway.background")


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(
        self, work: Coroutine[Any, Any, Any], what: str, *, level: int = logging.WARNING
    ) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)

        def ended(done: asyncio.Task[Any]) -> None:
            self._tasks.discard(done)
            if done.cancelled():
                return
            error = done.exception()
            if error is not None:
                log.log(level, "%s failed: %s", what, error, extra={"what": what})

        task.add_done_callback(ended)
        return task

    async def drain(self) -> None:
        """Wait for what is running (at shutdown), without raising its failures."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
