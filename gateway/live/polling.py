"""One shared poll per thing watched: however many subscribers, one upstream read per interval.

A ``SharedPoll`` runs while it has subscribers (``acquire``/``release``), waits ``interval``
between rounds and doubles the wait after a failed round (up to ``max_backoff``); its action
returns True when there is nothing left to poll for (a terminal execution). The wait goes
through an injectable ``sleep`` so tests drive rounds without waiting.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from adapters.errors import AdapterError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from gateway.core.background import Background

__all__ = ["SharedPoll"]

log = logging.getLogger("gateway.live")


class SharedPoll:
    def __init__(
        self,
        name: str,
        *,
        interval: float,
        max_backoff: float,
        action: Callable[[], Awaitable[bool]],
        sleep: Callable[[float], Awaitable[None]],
        background: Background,
        on_idle: Callable[[], None],
    ) -> None:
        self.name = name
        self.interval = interval
        self.max_backoff = max(interval, max_backoff)
        self._action = action
        self._sleep = sleep
        self._background = background
        self._on_idle = on_idle
        self.refs = 0
        self.rounds = 0
        self.errors = 0
        self._task: asyncio.Task[None] | None = None

    def acquire(self) -> None:
        self.refs += 1
        if self._task is None:
            self._task = self._background.spawn(self._run(), f"poll {self.name}")

    def release(self) -> None:
        self.refs -= 1
        if self.refs > 0:
            return
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._on_idle()

    async def _run(self) -> None:
        delay = self.interval
        try:
            while self.refs > 0:
                await self._sleep(delay)
                if self.refs <= 0:
                    return
                self.rounds += 1
                try:
                    finished = await self._action()
                except AdapterError as error:
                    self.errors += 1
                    delay = min(delay * 2, self.max_backoff)
                    log.warning(
                        "live poll failed; backing off",
                        extra={"poll": self.name, "error": type(error).__name__, "wait_s": delay},
                    )
                    continue
                delay = self.interval
                if finished:
                    return
        finally:
            if self._task is asyncio.current_task():
                self._task = None
