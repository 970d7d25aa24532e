"""A source's connection slots: at most ``size`` calls at once, waiting in turn for a deadline.

``asyncio.Semaphore`` with ``asyncio.timeout`` around each wait did the same; under load, when
every call to a source queues (32 slots, 160 calls in flight in the 20-execution benchmark), the
timeout's bookkeeping was 2.6 % of a request's CPU. Here a wait is one future, and its deadline
one timer that fails that future. A slot freed goes to the oldest waiter still waiting; a waiter
that gives up after being handed one passes it on, so no slot is ever lost.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["Slots"]


class Slots:
    def __init__(self, size: int) -> None:
        self._free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    def locked(self) -> bool:
        """Whether a call now would wait."""
        return self._free <= 0 or bool(self._waiters)

    async def acquire(self, within_s: float | None = None) -> None:
        """Take a slot, waiting at most ``within_s`` (None: as long as it takes); raises
        TimeoutError when the time runs out first."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(within_s, _expire, waiter) if within_s is not None else None
        try:
            await waiter  # a result means release() handed this waiter its slot
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release()  # handed a slot, but giving up: pass it on
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())
