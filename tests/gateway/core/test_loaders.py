"""A request's loaders: one fetch per id, shared within the request, started when first asked for.

The store underneath is the real one; the adapter is a stand-in for an upstream that counts its
calls and can be held, so the tests see exactly when a fetch starts and ends.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from adapters.errors import ExecutionNotFound
from adapters.model import Execution, ExecutionStatus
from gateway.config import CacheConfig
from gateway.core.loaders import Loaders
from gateway.core.store import ExecutionStore
from gateway.ops.stats import SourceStats
from tests.serving import demo_config_with


class CountingUpstream:
    """``get_tree`` answers from a table, counting calls; ``hold`` keeps every fetch waiting."""

    def __init__(self, trees: dict[str, list[Execution]]) -> None:
        self.trees = trees
        self.calls: Counter[str] = Counter()
        self.hold = asyncio.Event()
        self.hold.set()

    async def get_tree(self, native_id: str) -> list[Execution]:
        self.calls[native_id] += 1
        await self.hold.wait()
        if native_id not in self.trees:
            raise ExecutionNotFound("no such execution", source="rv", native_id=native_id)
        return self.trees[native_id]


def execution(native_id: str, parent: str | None = None) -> Execution:
    return Execution(
        native_id=native_id,
        status=ExecutionStatus.RUNNING,
        upstream_status="running",
        raw={},
        parent_native_id=parent,
    )


ROOT, CHILD = execution("root"), execution("child", parent="root")


@pytest.fixture
def upstream() -> CountingUpstream:
    return CountingUpstream({"root": [ROOT, CHILD], "solo": [execution("solo")]})


@pytest.fixture
def stats() -> SourceStats:
    return SourceStats()


@pytest.fixture
def store(upstream: CountingUpstream, stats: SourceStats) -> ExecutionStore:
    """The real store, cache off, shared by every request (loaders) of a test."""
    config = demo_config_with("http://127.0.0.1:9")
    return ExecutionStore(
        cache=CacheConfig(terminal_ttl_s=0, active_ttl_s=0),
        sources={s.name: s for s in config.sources},
        adapters={"rv": upstream},  # type: ignore[dict-item]
        stats={"rv": stats},
    )


def request_loaders(store: ExecutionStore, stats: SourceStats) -> Loaders:
    return Loaders(store, {"rv": stats})


async def test_an_id_asked_for_twice_is_fetched_once_and_counted_once(
    upstream: CountingUpstream, store: ExecutionStore, stats: SourceStats
) -> None:
    loaders = request_loaders(store, stats)
    first, again = loaders.execution("rv", "solo"), loaders.execution("rv", "solo")
    assert first is again
    assert (await first).native_id == "solo"
    assert upstream.calls == {"solo": 1}
    assert (stats.batches, stats.batched_keys) == (1, 1)


async def test_the_fetch_starts_when_first_asked_for(
    upstream: CountingUpstream, store: ExecutionStore, stats: SourceStats
) -> None:
    upstream.hold.clear()
    loaders = request_loaders(store, stats)
    pending = [loaders.execution("rv", "root"), loaders.execution("rv", "solo")]
    await asyncio.sleep(0)  # one loop turn: the fetches' tasks have run up to the upstream
    assert upstream.calls == {"root": 1, "solo": 1}
    upstream.hold.set()
    assert [e.native_id for e in await asyncio.gather(*pending)] == ["root", "solo"]
    assert (stats.batches, stats.max_batch_size) == (1, 2)  # one loop turn's keys: one batch


async def test_descendants_fetched_with_their_root_cost_no_call(
    upstream: CountingUpstream, store: ExecutionStore, stats: SourceStats
) -> None:
    loaders = request_loaders(store, stats)
    assert await loaders.execution("rv", "root") is ROOT
    assert await loaders.execution("rv", "child") is CHILD
    assert upstream.calls == {"root": 1}


async def test_an_error_is_that_ids_alone(store: ExecutionStore, stats: SourceStats) -> None:
    loaders = request_loaders(store, stats)
    missing, found = loaders.execution("rv", "nope"), loaders.execution("rv", "solo")
    with pytest.raises(ExecutionNotFound):
        await missing
    assert (await found).native_id == "solo"


async def test_a_request_giving_up_leaves_the_shared_fetch_to_the_others(
    upstream: CountingUpstream, store: ExecutionStore, stats: SourceStats
) -> None:
    upstream.hold.clear()
    impatient, patient = request_loaders(store, stats), request_loaders(store, stats)
    given_up = impatient.execution("rv", "solo")
    waiting = patient.execution("rv", "solo")
    await asyncio.sleep(0)
    given_up.cancel()
    upstream.hold.set()
    assert (await waiting).native_id == "solo"
    assert upstream.calls == {"solo": 1}  # single flight across the two requests


async def test_forget_makes_the_next_load_fetch_again(
    upstream: CountingUpstream, store: ExecutionStore, stats: SourceStats
) -> None:
    loaders = request_loaders(store, stats)
    await loaders.execution("rv", "solo")
    loaders.forget("rv", "solo")
    await loaders.execution("rv", "solo")
    assert upstream.calls == {"solo": 2}


async def test_release_drops_what_was_loaded(
    upstream: CountingUpstream, store: ExecutionStore, stats: SourceStats
) -> None:
    loaders = request_loaders(store, stats)
    await loaders.execution("rv", "solo")
    loaders.release()
    await loaders.execution("rv", "solo")
    assert upstream.calls == {"solo": 2}
