"""The execution store's TTLs (gateway/core/store.py), on its own clock, against the sandbox."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from gateway.config import CacheConfig
from gateway.core.runtime import Runtime
from gateway.core.store import ExecutionStore
from sandbox import rotavision
from tests.serving import demo_config_with

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sandbox import Sandbox

RV_GET = "GET /v1/orchestrate/executions/{execution_id}"
ACTIVE_TTL_S = 5.0
TERMINAL_TTL_S = 600.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def runtime(sandbox_url: str) -> AsyncIterator[Runtime]:
    runtime = Runtime(demo_config_with(sandbox_url))
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.aclose()


def store_on(runtime: Runtime, clock: Clock) -> ExecutionStore:
    """A store over the runtime's real adapters, with known TTLs and the test's clock."""
    return ExecutionStore(
        cache=CacheConfig(active_ttl_s=ACTIVE_TTL_S, terminal_ttl_s=TERMINAL_TTL_S),
        sources=runtime.sources,
        adapters=runtime.adapters,
        stats=runtime.stats,
        timer=clock,
    )


@pytest.mark.parametrize(
    ("native_id", "ttl_s"),
    [
        pytest.param(rotavision.DEMO_WAITING_ID, ACTIVE_TTL_S, id="waiting"),
        pytest.param(rotavision.DOC_EXAMPLE_ID, TERMINAL_TTL_S, id="completed"),
    ],
)
async def test_an_execution_is_read_again_only_once_its_ttl_has_passed(
    runtime: Runtime, sandbox: Sandbox, native_id: str, ttl_s: float
) -> None:
    clock = Clock()
    store = store_on(runtime, clock)
    await store.load("rv", native_id)
    clock.now = ttl_s - 0.01
    await store.load("rv", native_id)
    assert sandbox.stats.calls[RV_GET] == 1
    clock.now = ttl_s + 0.01
    await store.load("rv", native_id)
    assert sandbox.stats.calls[RV_GET] == 2
    assert runtime.stats["rv"].cache_hits == 1


async def test_invalidate_forgets_at_once(runtime: Runtime, sandbox: Sandbox) -> None:
    store = store_on(runtime, Clock())
    await store.load("rv", rotavision.DEMO_WAITING_ID)
    await store.invalidate("rv", rotavision.DEMO_WAITING_ID)
    assert store.cached("rv", rotavision.DEMO_WAITING_ID) is None
    await store.load("rv", rotavision.DEMO_WAITING_ID)
    assert sandbox.stats.calls[RV_GET] == 2


async def test_a_read_in_flight_when_the_execution_changes_is_neither_joined_nor_kept(
    runtime: Runtime, sandbox: Sandbox
) -> None:
    store = store_on(runtime, Clock())
    before = store.load("rv", rotavision.DOC_EXAMPLE_ID)  # sent before the change
    await store.invalidate("rv", rotavision.DOC_EXAMPLE_ID)  # e.g. a webhook said it changed
    await before  # its callers get what it read ...
    assert store.cached("rv", rotavision.DOC_EXAMPLE_ID) is None  # ... and the cache does not
    before = store.load("rv", rotavision.DOC_EXAMPLE_ID)
    await store.invalidate("rv", rotavision.DOC_EXAMPLE_ID)
    after = store.load("rv", rotavision.DOC_EXAMPLE_ID)
    assert after is not before  # a caller after the change does not join the older read
    await asyncio.gather(before, after)
    assert sandbox.stats.calls[RV_GET] == 3


async def test_changes_the_shared_state_missed_are_retried_and_do_not_hold_up_shutdown(
    runtime: Runtime,
) -> None:
    from gateway.core.background import Background
    from gateway.state.redis import RedisState

    unreachable = RedisState("redis://127.0.0.1:1/0", timeout_s=0.2)
    background = Background()
    store = ExecutionStore(
        cache=CacheConfig(),
        sources=runtime.sources,
        adapters=runtime.adapters,
        stats=runtime.stats,
        shared=unreachable,
        background=background,
    )
    told: list[tuple[str, str]] = []
    store.on_invalidate.append(lambda source, native_id: told.append((source, native_id)))
    await store.invalidate("rv", rotavision.DOC_EXAMPLE_ID)
    assert told == []  # not announced: the shared state never superseded it
    assert len(background) == 1  # the retry, waiting for the shared state
    store.stop_sending()
    async with asyncio.timeout(5):
        await background.drain()
    await unreachable.aclose()
