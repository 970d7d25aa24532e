"""Single flight (gateway/core/single_flight.py): one task per key at a time, shared by joiners."""

from __future__ import annotations

import asyncio

import pytest

from gateway.core.single_flight import SingleFlight


class Work:
    """Counts starts; every run waits for ``release`` so the test decides when work ends."""

    def __init__(self) -> None:
        self.starts = 0
        self.release = asyncio.Event()

    async def run(self) -> int:
        self.starts += 1
        await self.release.wait()
        return self.starts


async def test_callers_of_one_key_share_one_task_and_the_key_frees_when_it_ends() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    work = Work()
    first, joined_first = flight.join("k", work.run)
    second, joined_second = flight.join("k", work.run)
    assert (joined_first, joined_second) == (False, True)
    assert second is first
    work.release.set()
    assert [await first, await second] == [1, 1]
    assert work.starts == 1
    third, joined_third = flight.join("k", work.run)
    assert joined_third is False
    assert await third == 2


async def test_different_keys_run_apart() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    work = Work()
    a, _ = flight.join("a", work.run)
    b, _ = flight.join("b", work.run)
    assert a is not b
    work.release.set()
    await asyncio.gather(a, b)
    assert work.starts == 2


async def test_a_failure_is_shared_once_and_not_kept() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    calls = 0

    async def fail() -> int:
        nonlocal calls
        calls += 1
        raise RuntimeError("upstream down")

    task, _ = flight.join("k", fail)
    same, joined = flight.join("k", fail)
    assert joined is True
    for waiting in (task, same):
        with pytest.raises(RuntimeError):
            await waiting
    retry, joined = flight.join("k", fail)
    assert joined is False
    with pytest.raises(RuntimeError):
        await retry
    assert calls == 2


async def test_a_caller_giving_up_behind_a_shield_does_not_cancel_the_shared_work() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    work = Work()
    task, _ = flight.join("k", work.run)

    async def wait() -> int:
        return await asyncio.shield(task)

    impatient = asyncio.create_task(wait())
    await asyncio.sleep(0)  # one loop turn: the impatient caller is waiting
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    assert not task.cancelled()
    _, joined = flight.join("k", work.run)
    assert joined is True  # still in flight for the others
    work.release.set()
    assert await task == 1


async def test_a_forgotten_key_starts_afresh_and_the_old_task_still_ends_for_its_joiners() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    old_work, new_work = Work(), Work()
    old, _ = flight.join("k", old_work.run)
    await asyncio.sleep(0)  # the old task is running
    assert flight.holds("k", old)
    flight.forget("k")
    assert not flight.holds("k", old)
    new, joined = flight.join("k", new_work.run)
    assert (new is old, joined) == (False, False)
    old_work.release.set()
    assert await old == 1
    # The old task's end does not free the key its successor holds.
    assert flight.holds("k", new)
    assert flight.join("k", new_work.run) == (new, True)
    new_work.release.set()
    await new
    assert not flight.holds("k", new)
