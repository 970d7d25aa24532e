"""Futures derived without a task (gateway/core/futures.py): what passes through, what is added."""

from __future__ import annotations

import asyncio
import gc

import pytest

from gateway.core.futures import fail, then


async def test_the_result_is_transformed_once_the_future_settles() -> None:
    source: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    derived = then(source, lambda n: n * 2)
    assert not derived.done()
    source.set_result(21)
    assert await derived == 42


async def test_an_exception_passes_through_untransformed() -> None:
    source: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    seen: list[int] = []
    derived = then(source, seen.append)
    source.set_exception(LookupError("gone"))
    with pytest.raises(LookupError, match="gone"):
        await derived
    assert seen == []


async def test_what_the_transform_raises_is_the_derived_futures_exception() -> None:
    def refuse(_: int) -> int:
        raise PermissionError("not in scope")

    source: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    derived = then(source, refuse)
    source.set_result(1)
    with pytest.raises(PermissionError, match="not in scope"):
        await derived


async def test_cancelling_the_source_cancels_the_derived_and_not_the_other_way() -> None:
    loop = asyncio.get_running_loop()
    source: asyncio.Future[int] = loop.create_future()
    derived = then(source, lambda n: n)
    source.cancel()
    await asyncio.sleep(0)
    assert derived.cancelled()
    shared: asyncio.Future[int] = loop.create_future()
    given_up = then(shared, lambda n: n)
    given_up.cancel()  # one request gives up; the shared fetch goes on for the others
    shared.set_result(3)
    await asyncio.sleep(0)
    assert not shared.cancelled()


async def test_a_failure_nobody_awaits_is_not_reported() -> None:
    """A request that gave up leaves its derived future unawaited: its failure must not reach
    the loop's exception handler (asyncio logs those at ERROR, once per dropped future)."""
    loop = asyncio.get_running_loop()
    reported: list[str] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context["message"]))
    try:
        source: asyncio.Future[int] = loop.create_future()
        then(source, lambda n: n)
        source.set_exception(LookupError("nobody asked"))
        source.exception()
        for _ in range(2):  # the derived future settles, then its own callbacks run
            await asyncio.sleep(0)
        del source  # it holds the error, whose traceback holds the derived future
        gc.collect()
    finally:
        loop.set_exception_handler(None)
    assert reported == []


async def test_a_failed_future_still_raises_for_whoever_awaits_it_and_alone_is_not_reported() -> (
    None
):
    """``fail`` marks the error retrieved without a done callback; an awaiter still gets it."""
    loop = asyncio.get_running_loop()
    reported: list[str] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context["message"]))
    try:
        awaited: asyncio.Future[int] = loop.create_future()
        fail(awaited, LookupError("asked"))
        with pytest.raises(LookupError, match="asked"):
            await awaited
        dropped: asyncio.Future[int] = loop.create_future()
        fail(dropped, LookupError("nobody asked"))
        del dropped
        source: asyncio.Future[int] = loop.create_future()
        then(source, lambda n: n // 0)  # its transform raises; nobody awaits the derived
        source.set_result(1)
        await asyncio.sleep(0)
        gc.collect()
    finally:
        loop.set_exception_handler(None)
    assert reported == []
