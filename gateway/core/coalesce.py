"""Identical in-flight operations share one execution (the lock-step fix, docs/performance.md).

When many clients ask the same query at once — dashboards watching one running execution — the
first runs it and the others wait for its result instead of each executing and serialising the
same answer after the same upstream fetch (32 such requests made a 20 ms burst of CPU in which
nothing else was read). The key says what makes two operations the same answer: the caller
(``coalescing_key`` in gateway/schema/gating.py builds it from the document, variables, operation name, roles,
scope and reviewer), so a shared answer never crosses scopes, roles or reviewers.

The followers are woken ``release_slice`` per turn of the event loop, not all in one: each still
writes its own response, and between slices the loop reads the requests those answered clients
send next, so the next upstream fetch starts while the rest are written instead of after them.

A follower whose leader fails or is cancelled runs the operation itself: nothing is lost, only
the sharing. At most ``max_keys`` operations are shared at once; past that, each runs alone.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Hashable

__all__ = ["MAX_SHARED", "RELEASE_SLICE", "Coalescer"]

MAX_SHARED = 10_000
"""Operations shared at once; past it, new ones run alone (a bound on the map, not on load)."""

RELEASE_SLICE = 2
"""Followers woken per turn of the event loop (docs/performance.md, "the same id")."""

R = TypeVar("R")


class _LeaderGone(Exception):
    """The leader did not answer: its followers run the operation themselves."""


class Coalescer(Generic[R]):
    def __init__(self, max_keys: int = MAX_SHARED, release_slice: int = RELEASE_SLICE) -> None:
        self._running: dict[Hashable, list[asyncio.Future[R]]] = {}
        self._max_keys = max_keys
        self._release_slice = release_slice
        self.coalesced = 0
        """Operations answered with another's result since start-up."""

    async def run(self, key: Hashable, execute: Callable[[], Awaitable[R]]) -> R:
        """``execute()``'s result, shared with every identical call made while it runs."""
        loop = asyncio.get_running_loop()
        followers = self._running.get(key)
        if followers is not None:
            turn: asyncio.Future[R] = loop.create_future()
            followers.append(turn)
            try:
                result = await turn
            except _LeaderGone:
                return await execute()
            self.coalesced += 1
            return result
        if len(self._running) >= self._max_keys:
            return await execute()
        followers = self._running[key] = []
        try:
            result = await execute()
        except BaseException:
            for waiting in followers:
                if not waiting.done():
                    waiting.set_exception(_LeaderGone())
            raise
        finally:
            if self._running.get(key) is followers:
                del self._running[key]
        self._release(loop, followers, result, 0)
        return result

    def _release(
        self,
        loop: asyncio.AbstractEventLoop,
        followers: list[asyncio.Future[R]],
        result: R,
        start: int,
    ) -> None:
        """Wake one slice of ``followers`` from ``start``, and the next slice on the next turn."""
        end = start + self._release_slice
        for waiting in followers[start:end]:
            if not waiting.done():  # a follower cancelled while it waited
                waiting.set_result(result)
        if end < len(followers):
            loop.call_soon(self._release, loop, followers, result, end)

    def __len__(self) -> int:
        return len(self._running)
