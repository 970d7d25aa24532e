"""Identical in-flight operations share one execution (the lock-step fix, docs/performance.md).

When many clients ask the same query at once — dashboards watching one running execution — the
first runs it and the others wait for its result instead of each executing and serialising the
same answer after the same upstream fetch (32 such requests made a 20 ms burst of CPU in which
nothing else was read). The key says what makes two operations the same answer: the caller
(``coalescing_key`` in gateway/schema/gating.py builds it from the document, variables, operation name, roles,
scope and reviewer), so a shared answer never crosses scopes, roles or reviewers.

A follower whose leader fails or is cancelled runs the operation itself: nothing is lost, only
the sharing. At most ``max_keys`` operations are shared at once; past that, each runs alone.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Hashable

__all__ = ["MAX_SHARED", "Coalescer"]

MAX_SHARED = 10_000
"""Operations shared at once; past it, new ones run alone (a bound on the map, not on load)."""

R = TypeVar("R")


class _LeaderGone(Exception):
    """The leader did not answer: its followers run the operation themselves."""


class Coalescer(Generic[R]):
    def __init__(self, max_keys: int = MAX_SHARED) -> None:
        self._running: dict[Hashable, asyncio.Future[R]] = {}
        self._max_keys = max_keys
        self.coalesced = 0
        """Operations answered with another's result since start-up."""

    async def run(self, key: Hashable, execute: Callable[[], Awaitable[R]]) -> R:
        """``execute()``'s result, shared with every identical call made while it runs."""
        running = self._running.get(key)
        if running is not None:
            try:
                result = await asyncio.shield(running)
            except _LeaderGone:
                return await execute()
            self.coalesced += 1
            return result
        if len(self._running) >= self._max_keys:
            return await execute()
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            result = await execute()
        except BaseException:
            future.set_exception(_LeaderGone())
            future.exception()  # retrieved: a leader without followers leaves no warning
            raise
        finally:
            if self._running.get(key) is future:
                del self._running[key]
        future.set_result(result)
        return result

    def __len__(self) -> int:
        return len(self._running)
