"""Identical in-flight queries share one execution; nothing else does (gateway/core/coalesce.py)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import httpx
import pytest

from gateway.core.coalesce import Coalescer
from gateway.http.app import create_app
from sandbox import Sandbox, rotavision
from tests.serving import demo_config_with, metric, serving

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

RUNNING = f"rv:{rotavision.DEMO_WAITING_ID}"
QUERY = "query($id: ID!) { execution(id: $id) { id status steps { status } } }"
NO_CACHE = {"active_ttl_s": 0, "terminal_ttl_s": 0, "answers_max_entries": 0}


def answers_once_released(release: asyncio.Event, value: int) -> Callable[[], Awaitable[int]]:
    """An operation that answers ``value`` once ``release`` is set: still running until then."""

    async def execute() -> int:
        await release.wait()
        return value

    return execute


async def leader_and_followers(
    coalescer: Coalescer[int], count: int, release: asyncio.Event
) -> tuple[asyncio.Task[int], list[asyncio.Task[int]]]:
    """A leader running an operation that answers 7 once ``release`` is set, and ``count``
    identical calls made while it runs, each already waiting on it."""
    execute = answers_once_released(release, 7)
    leader = asyncio.create_task(coalescer.run("k", execute))
    await asyncio.sleep(0)
    followers = [asyncio.create_task(coalescer.run("k", execute)) for _ in range(count)]
    await asyncio.sleep(0)
    return leader, followers


async def test_a_follower_gets_the_leaders_result() -> None:
    coalescer: Coalescer[int] = Coalescer()
    runs = 0
    release = asyncio.Event()

    async def execute() -> int:
        nonlocal runs
        runs += 1
        await release.wait()
        return runs

    calls = [asyncio.create_task(coalescer.run("k", execute)) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*calls) == [1] * 5
    assert (runs, coalescer.coalesced, len(coalescer)) == (1, 4, 0)


async def test_followers_are_woken_a_slice_per_turn_of_the_loop() -> None:
    """Between slices the loop reads new requests, so the next fetch need not wait for all."""
    coalescer: Coalescer[int] = Coalescer(release_slice=2)
    release = asyncio.Event()
    leader, followers = await leader_and_followers(coalescer, 5, release)
    release.set()
    assert await leader == 7
    answered_by_turn = []
    while not all(follower.done() for follower in followers):
        answered_by_turn.append(sum(follower.done() for follower in followers))
        await asyncio.sleep(0)
    assert answered_by_turn == [2, 4]
    assert [follower.result() for follower in followers] == [7] * 5
    assert (coalescer.coalesced, len(coalescer)) == (5, 0)


async def test_a_follower_cancelled_while_it_waits_is_passed_over() -> None:
    coalescer: Coalescer[int] = Coalescer(release_slice=1)
    release = asyncio.Event()
    leader, (gone, staying) = await leader_and_followers(coalescer, 2, release)
    gone.cancel()
    release.set()
    assert (await leader, await staying) == (7, 7)
    assert gone.cancelled()
    assert coalescer.coalesced == 1


async def test_followers_run_themselves_when_the_leader_fails() -> None:
    coalescer: Coalescer[str] = Coalescer()
    attempts: list[str] = []
    release = asyncio.Event()

    async def failing() -> str:
        attempts.append("leader")
        await release.wait()
        raise RuntimeError("upstream went away")

    async def working() -> str:
        attempts.append("follower")
        return "answered"

    leader = asyncio.create_task(coalescer.run("k", failing))
    await asyncio.sleep(0)
    follower = asyncio.create_task(coalescer.run("k", working))
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(RuntimeError):
        await leader
    assert await follower == "answered"
    assert attempts == ["leader", "follower"]
    assert coalescer.coalesced == 0


async def test_past_its_bound_each_runs_alone() -> None:
    coalescer: Coalescer[int] = Coalescer(max_keys=1)
    release = asyncio.Event()
    execute = answers_once_released(release, 1)

    first = asyncio.create_task(coalescer.run("a", execute))
    await asyncio.sleep(0)
    second = asyncio.create_task(coalescer.run("b", execute))
    await asyncio.sleep(0)
    assert len(coalescer) == 1
    release.set()
    assert list(await asyncio.gather(first, second)) == [1, 1]


async def test_identical_queries_share_one_execution_over_http(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    """The issue's lock-step: many clients, one id, caches off. One execution answers all."""
    sandbox.faults.update({"latency_ms": 100})  # they all arrive while the first runs
    config = demo_config_with(sandbox_url, cache=NO_CACHE)
    body = {"query": QUERY, "variables": {"id": RUNNING}}
    async with (
        serving(create_app(config)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        answers = await asyncio.gather(*(client.post("/graphql", json=body) for _ in range(20)))
        coalesced = await metric(client, "gateway_coalesced_operations_total")
        other_variables = await client.post(
            "/graphql",
            json={"query": QUERY, "variables": {"id": f"rv:{rotavision.DOC_EXAMPLE_ID}"}},
        )
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert coalesced >= 15  # each that arrived while the first ran (a slow machine may miss a few)
    assert other_variables.json()["data"]["execution"]["id"] == f"rv:{rotavision.DOC_EXAMPLE_ID}"


async def test_mutations_are_never_shared(sandbox_url: str, sandbox: Sandbox) -> None:
    sandbox.faults.update({"latency_ms": 100})
    config = demo_config_with(sandbox_url, cache=NO_CACHE)
    mutation = 'mutation { approve(input: {approvalId: "rv:exec_nope:appr_nope"}) { __typename } }'
    async with (
        serving(create_app(config)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        await asyncio.gather(*(client.post("/graphql", json={"query": mutation}) for _ in range(5)))
        assert await metric(client, "gateway_coalesced_operations_total") == 0
