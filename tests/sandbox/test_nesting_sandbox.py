"""The simulated Zaia API, driven in-process by the real NestingAdapter."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import httpx
import pytest

from adapters.base import Credentials
from adapters.engine import HTTPSettings
from adapters.errors import ExecutionNotFound, UpstreamAuthFailed, UpstreamRejected
from adapters.model import ExecutionStatus, StepKind
from adapters.nesting import ListOrder, NestingAdapter, NestingOptions
from sandbox import SANDBOX_CREDENTIALS, Sandbox, SandboxConfig
from sandbox.nesting import DEMO_TREE_ID, DEMO_TREE_IDS, NestingsShape, NestingStore

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

NESTINGS = "GET /api/v1/executions/nestings"
SINGLE = "GET /api/v1/executions/{execution_id}"
LIST = "GET /api/v1/executions"


def make_adapter(
    sandbox: Sandbox, key: str | None = None, options: NestingOptions | None = None
) -> NestingAdapter:
    adapter = NestingAdapter.create(
        name="zaia",
        base_url="http://sandbox",
        credentials=Credentials(api_key=key or SANDBOX_CREDENTIALS["nesting"]["api_key"]),
        settings=HTTPSettings(),
        transport=httpx.ASGITransport(app=sandbox.app()),
        options=options,
    )
    assert isinstance(adapter, NestingAdapter)
    return adapter


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox()


@pytest.fixture
async def adapter(sandbox: Sandbox) -> AsyncIterator[NestingAdapter]:
    adapter = make_adapter(sandbox)
    yield adapter
    await adapter.aclose()


def test_store_is_seeded_deterministically_with_every_kind_of_execution() -> None:
    store = NestingStore(seed=7, count=240, api_keys=("k",))
    again = NestingStore(seed=7, count=240, api_keys=("k",))
    assert store.executions == again.executions
    assert len(store.executions) == 240
    records = list(store.executions.values())
    assert {r["status"] for r in records} >= {
        "pending",
        "running",
        "completed",
        "failed",
        "cancelled",
        "timeout",
        "paused_by_admin",
    }
    assert any(r["isPurged"] and r["detail"] == {} for r in records)
    assert any("output" in r["detail"] for r in records)
    assert any(set(r["detail"]) == {"input"} for r in records)
    assert any(r["detail"] and "input" not in r["detail"] for r in records)
    depth = {r["id"]: 0 for r in records if r["parentId"] is None}
    for record in sorted(records, key=lambda r: r["startedAt"]):
        if record["parentId"] is not None:
            depth[record["id"]] = depth[record["parentId"]] + 1
    assert max(depth.values()) == 2


async def test_every_seeded_execution_parses(sandbox: Sandbox, adapter: NestingAdapter) -> None:
    for native_id, record in sandbox.nesting.executions.items():
        execution = await adapter.get_execution(native_id)
        assert execution.native_id == native_id
        assert execution.upstream_status == record["status"]
        assert execution.is_purged is record["isPurged"]
        assert execution.cost is not None
        if record["status"] == "paused_by_admin":
            assert execution.status is ExecutionStatus.UNKNOWN
        else:
            assert execution.status is not ExecutionStatus.UNKNOWN
        assert (execution.completed_at is None) is (record["endedAt"] is None)
    assert sandbox.stats.calls[SINGLE] == len(sandbox.nesting.executions)


async def test_demo_tree_comes_three_levels_deep_in_one_call(
    sandbox: Sandbox, adapter: NestingAdapter
) -> None:
    tree = await adapter.get_tree(DEMO_TREE_ID)
    assert sandbox.stats.calls == Counter({NESTINGS: 1})
    root, c1, c2, c3, g1, g2, g3 = DEMO_TREE_IDS
    assert root == DEMO_TREE_ID
    assert [e.native_id for e in tree] == [root, c1, g1, g2, c2, g3, c3]  # depth first
    by_id = {e.native_id: e for e in tree}
    assert by_id[root].child_native_ids == (c1, c2, c3)
    assert by_id[c1].child_native_ids == (g1, g2)
    assert by_id[c2].child_native_ids == (g3,)
    assert by_id[c3].child_native_ids == by_id[g1].child_native_ids == ()
    assert [s.kind for s in by_id[root].steps] == [StepKind.SUB_EXECUTION] * 3
    assert [s.child_native_id for s in by_id[c1].steps] == [g1, g2]
    assert by_id[g3].parent_native_id == c2
    assert by_id[g2].is_purged is True
    assert by_id[g2].inputs is None
    assert by_id[c2].status is ExecutionStatus.FAILED
    assert by_id[c2].error is not None


@pytest.mark.parametrize("shape", ["array", "object", "single"])
async def test_every_nestings_shape_gives_the_same_tree(
    sandbox: Sandbox, adapter: NestingAdapter, shape: NestingsShape
) -> None:
    baseline = await adapter.get_tree(DEMO_TREE_ID)
    sandbox.nesting.nestings_shape = shape
    tree = await adapter.get_tree(DEMO_TREE_ID)
    assert [(e.native_id, e.child_native_ids) for e in tree] == [
        (e.native_id, e.child_native_ids) for e in baseline
    ]


async def test_every_tree_parses_from_its_root(sandbox: Sandbox, adapter: NestingAdapter) -> None:
    store = sandbox.nesting
    roots = [r["id"] for r in store.executions.values() if r["parentId"] is None]
    seen: list[str] = []
    for root in roots:
        tree = await adapter.get_tree(root)
        assert tree[0].native_id == root
        for execution in tree:
            assert execution.child_native_ids == tuple(
                k["id"] for k in store.children_of(execution.native_id)
            )
        seen += [e.native_id for e in tree]
    assert sorted(seen) == sorted(store.executions)
    assert sandbox.stats.calls[NESTINGS] == len(roots)


async def test_paging_the_whole_list_visits_every_execution_once(
    sandbox: Sandbox, adapter: NestingAdapter
) -> None:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await adapter.list_executions(cursor=cursor, page_size=100)
        assert page.complete is False
        seen += [e.native_id for e in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == len(sandbox.nesting.executions)
    started = [sandbox.nesting.executions[i]["startedAt"] for i in seen]
    assert started == sorted(started, reverse=True)


@pytest.mark.parametrize("order", ["asc", "auto"])
async def test_an_oldest_first_sandbox_is_still_paged_newest_first(order: ListOrder) -> None:
    sandbox = Sandbox(SandboxConfig(executions_per_source=70, nesting_list_order="asc"))
    adapter = make_adapter(sandbox, options=NestingOptions(list_order=order))
    listed = sandbox.nesting.listed()
    assert listed[0]["startedAt"] < listed[-1]["startedAt"]
    seen: list[str] = []
    cursor: str | None = None
    try:
        while True:
            page = await adapter.list_executions(cursor=cursor, page_size=20)
            seen += [e.native_id for e in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
    finally:
        await adapter.aclose()
    assert len(seen) == len(set(seen)) == len(sandbox.nesting.executions)
    started = [sandbox.nesting.executions[i]["startedAt"] for i in seen]
    assert started == sorted(started, reverse=True)


def before_a_newer_one(started: list[str]) -> int:
    """How many items come before one that started later (0 for an exact newest-first list)."""
    count, newest_after = 0, ""
    for moment in reversed(started):
        count += moment < newest_after
        newest_after = max(newest_after, moment)
    return count


def test_the_grouped_list_is_roots_oldest_first_each_followed_by_its_descendants() -> None:
    store = NestingStore(seed=7, count=200, api_keys=("k",), list_order="grouped")
    listed = store.listed()
    assert sorted(r["id"] for r in listed) == sorted(store.executions)
    roots = [r for r in listed if r["parentId"] is None]
    assert [r["startedAt"] for r in roots] == sorted(r["startedAt"] for r in roots)
    position = {r["id"]: n for n, r in enumerate(listed)}
    for record in listed:
        parent = store.executions.get(record["parentId"] or "")
        if parent is not None:
            assert position[parent["id"]] < position[record["id"]]
            assert parent["startedAt"] < record["startedAt"]
    # Not monotonic: a root's children come before the grandchildren that started earlier.
    started = [r["startedAt"] for r in listed]
    assert started != sorted(started)
    assert before_a_newer_one(started) > 150


@pytest.mark.parametrize("options", [None, NestingOptions(list_order="auto")])
async def test_a_grouped_list_is_paged_newest_first(options: NestingOptions | None) -> None:
    """Roots oldest first, each followed by its later-started descendants: page 1's trend says
    oldest first, so the adapter walks back from the last page, each page newest first."""
    sandbox = Sandbox(SandboxConfig(executions_per_source=200, nesting_list_order="grouped"))
    adapter = make_adapter(sandbox, options=options)
    seen: list[str] = []
    pages: list[list[str]] = []
    cursor: str | None = None
    try:
        while True:
            page = await adapter.list_executions(cursor=cursor, page_size=20)
            pages.append([e.native_id for e in page.items])
            seen += pages[-1]
            cursor = page.next_cursor
            if cursor is None:
                break
    finally:
        await adapter.aclose()
    executions = sandbox.nesting.executions
    assert len(seen) == len(set(seen)) == len(executions)
    for ids in pages:
        started = [executions[i]["startedAt"] for i in ids]
        assert started == sorted(started, reverse=True)
    # Only where a page boundary splits a tree can an item come before a newer one.
    started = [executions[i]["startedAt"] for i in seen]
    assert before_a_newer_one(started) <= len(pages)


async def test_unknown_id_is_not_found(adapter: NestingAdapter) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(ExecutionNotFound) as single:
        await adapter.get_execution(unknown)
    with pytest.raises(ExecutionNotFound) as tree:
        await adapter.get_tree(unknown)
    assert single.value.upstream_code == tree.value.upstream_code == "not_found"


@pytest.mark.parametrize(
    "native_id",
    [
        pytest.param("a/b", id="slash"),
        pytest.param("..", id="dot-dot"),
        pytest.param("x?admin=1", id="query"),
        pytest.param("50%", id="percent"),
    ],
)
async def test_odd_ids_stay_inside_the_executions_path(
    adapter: NestingAdapter, native_id: str
) -> None:
    with pytest.raises(ExecutionNotFound):
        await adapter.get_execution(native_id)
    with pytest.raises(ExecutionNotFound):
        await adapter.get_tree(native_id)


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("wrong", id="wrong"),
        pytest.param(f"Bearer {SANDBOX_CREDENTIALS['nesting']['api_key']}", id="bearer-prefix"),
    ],
)
async def test_wrong_key_is_refused_with_zaias_error_body(sandbox: Sandbox, key: str) -> None:
    adapter = make_adapter(sandbox, key=key)
    with pytest.raises(UpstreamAuthFailed) as caught:
        await adapter.get_tree(DEMO_TREE_ID)
    await adapter.aclose()
    assert caught.value.upstream_code == "unauthorized"
    assert caught.value.http_status == 401


async def test_error_body_has_zaias_shape(sandbox: Sandbox) -> None:
    transport = httpx.ASGITransport(app=sandbox.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        missing = await client.get("/api/v1/executions/nope", headers={"authorization": "x"})
        key = {"authorization": SANDBOX_CREDENTIALS["nesting"]["api_key"]}
        no_id = await client.get("/api/v1/executions/nestings", headers=key)
        unknown = await client.get("/api/v1/executions/nope", headers=key)
    assert missing.status_code == 401
    body = missing.json()
    assert set(body) == {"code", "message", "name", "cta", "feedback"}
    assert body["name"] == "UnauthorizedError"
    assert body["cta"] == {"type": "support-contact", "url": "https://zaia.app/support"}
    assert set(body["feedback"]) == {"enUs", "esEs", "ptBr"}
    assert no_id.status_code == 400
    assert (unknown.status_code, unknown.json()["name"]) == (404, "NotFoundError")


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("pageSize=0", id="size-zero"),
        pytest.param("pageSize=101", id="size-over"),
        pytest.param("pageNumber=0", id="page-zero"),
        pytest.param("pageNumber=one", id="page-text"),
    ],
)
async def test_list_refuses_out_of_range_paging(sandbox: Sandbox, query: str) -> None:
    transport = httpx.ASGITransport(app=sandbox.app())
    key = {"authorization": SANDBOX_CREDENTIALS["nesting"]["api_key"]}
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        response = await client.get(f"/api/v1/executions?{query}", headers=key)
    assert response.status_code == 400
    assert response.json()["name"] == "BadRequestError"


async def test_list_defaults_and_filters_by_responder(sandbox: Sandbox) -> None:
    store = sandbox.nesting
    transport = httpx.ASGITransport(app=sandbox.app())
    key = {"authorization": SANDBOX_CREDENTIALS["nesting"]["api_key"]}
    first, second = store.responders[:2]
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        default = (await client.get("/api/v1/executions", headers=key)).json()
        one = await client.get(
            "/api/v1/executions", params={"responderIds": first, "pageSize": 100}, headers=key
        )
        two = await client.get(
            "/api/v1/executions",
            params={"responderIds": [first, second], "pageSize": 100},
            headers=key,
        )
    assert [r["id"] for r in default] == [r["id"] for r in store.newest_first()[:10]]
    assert {r["responderId"] for r in one.json()} == {first}
    assert {r["responderId"] for r in two.json()} == {first, second}


async def test_small_sandbox_still_has_the_demo_tree() -> None:
    sandbox = Sandbox(SandboxConfig(executions_per_source=3))
    adapter = make_adapter(sandbox)
    tree = await adapter.get_tree(DEMO_TREE_ID)
    await adapter.aclose()
    assert len(tree) == len(DEMO_TREE_IDS)


async def test_injected_faults_become_unavailable(
    sandbox: Sandbox, adapter: NestingAdapter
) -> None:
    from adapters.errors import UpstreamUnavailable

    sandbox.faults.update({"fail_rate": 1.0})
    with pytest.raises(UpstreamUnavailable):
        await adapter.get_tree(DEMO_TREE_ID)
    with pytest.raises(UpstreamRejected):
        await adapter.list_executions(cursor="x", page_size=10)
