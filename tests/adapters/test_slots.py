"""Connection slots (adapters/slots.py): at most ``size`` at once, in turn, waits bounded, no slot
lost whoever gives up."""

from __future__ import annotations

import asyncio

import pytest

from adapters.slots import Slots


async def test_a_free_slot_is_taken_at_once_and_the_rest_wait_in_turn() -> None:
    slots = Slots(1)
    await slots.acquire()
    assert slots.locked()
    order: list[str] = []

    async def take(name: str) -> None:
        await slots.acquire()
        order.append(name)

    waiting = [asyncio.ensure_future(take(name)) for name in ("first", "second")]
    await asyncio.sleep(0)
    assert order == []
    slots.release()
    await asyncio.sleep(0)
    assert order == ["first"]
    slots.release()
    await asyncio.gather(*waiting)
    assert order == ["first", "second"]
    slots.release()
    assert not slots.locked()


async def test_a_wait_past_its_time_is_a_timeout_and_takes_no_slot() -> None:
    slots = Slots(1)
    await slots.acquire()
    with pytest.raises(TimeoutError):
        await slots.acquire(within_s=0.01)
    slots.release()
    assert not slots.locked()  # the expired waiter did not keep the freed slot
    await slots.acquire(within_s=0.01)


async def test_a_waiter_cancelled_after_being_handed_a_slot_passes_it_on() -> None:
    slots = Slots(1)
    await slots.acquire()
    handed = asyncio.ensure_future(slots.acquire())
    behind = asyncio.ensure_future(slots.acquire())
    await asyncio.sleep(0)
    slots.release()  # the slot goes to `handed` ...
    handed.cancel()  # ... which gives up before it runs
    await asyncio.sleep(0)
    assert handed.cancelled()
    await asyncio.wait_for(behind, 1)  # the slot went on to the next in turn
    slots.release()
    assert not slots.locked()


async def test_a_cancelled_waiter_leaves_the_count_as_it_was() -> None:
    slots = Slots(2)
    await slots.acquire()
    await slots.acquire()
    gone = asyncio.ensure_future(slots.acquire())
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.sleep(0)
    slots.release()
    slots.release()
    await slots.acquire()
    await slots.acquire()
    assert slots.locked()
