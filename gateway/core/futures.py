"""Futures derived from futures, without a task: the loaders' per-request views of a shared fetch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

__all__ = ["fail", "retrieve_outcome", "then"]

T = TypeVar("T")
U = TypeVar("U")


def retrieve_outcome(future: asyncio.Future[Any]) -> None:
    """A done callback that marks a future's exception as retrieved.

    A fetch is shared: the request that started it may have given up (its answer nulled by
    another error) before it fails, and asyncio logs a failure nobody retrieved at ERROR, which
    would let any caller flood the error log. Whoever awaits the future still gets the error.
    """
    if not future.cancelled():
        future.exception()


def fail(future: asyncio.Future[Any], error: BaseException) -> None:
    """Set ``error`` on a future of our own, already marked retrieved (``retrieve_outcome``'s
    reason), so no done callback is needed for it: whoever awaits the future still gets it."""
    future.set_exception(error)
    future.exception()


def then(future: asyncio.Future[T], transform: Callable[[T], U]) -> asyncio.Future[U]:
    """``transform`` of ``future``'s result, in a future of its own, as soon as it settles: no
    task and no coroutine. Its exception or cancellation passes through; what ``transform``
    raises becomes the new future's exception, marked retrieved (``fail``)."""
    derived: asyncio.Future[U] = future.get_loop().create_future()

    def settle(settled: asyncio.Future[T]) -> None:
        if derived.done():
            return
        if settled.cancelled():
            derived.cancel()
            return
        error = settled.exception()
        if error is not None:
            fail(derived, error)
            return
        try:
            derived.set_result(transform(settled.result()))
        except Exception as exc:
            fail(derived, exc)

    future.add_done_callback(settle)
    return derived
