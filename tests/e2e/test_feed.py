"""``Query.executionFeed`` end to end over the sandbox's 240 executions per source.

The expected feed is computed from the sandbox's own stores, parsed as the adapters parse them:
every listable execution once, newest first by start time, ties by global id (descending).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from adapters import nesting, rotavision, velt
from gateway.core import ids
from sandbox import Sandbox
from tests.serving import gateway_client, graphql

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    import httpx

    from adapters.model import Execution

pytestmark = pytest.mark.e2e

VELT_GET = "POST /v2/workflow/executions/get"
RV_GET = "GET /v1/orchestrate/executions/{execution_id}"
LISTABLE = ("rv", "velt", "zaia")
NO_RETRIES = {"retries": 0, "breaker_failures": 0}

FEED = """query ($filter: ExecutionFilter, $first: Int!, $after: String) {
  executionFeed(filter: $filter, first: $first, after: $after) {
    edges { cursor node { id } }
    pageInfo { hasNextPage endCursor }
    totalCount
    skippedSources { source reason }
    failedSources { source code message }
  }
}"""


@pytest.fixture
def sandbox() -> Sandbox:
    """The default sandbox (240 executions per source), so paging crosses many upstream pages."""
    return Sandbox()


def parsed(sandbox: Sandbox) -> dict[str, list[Execution]]:
    return {
        "rv": [rotavision.parse_execution(r) for r in sandbox.rotavision.executions.values()],
        "velt": [velt.parse_execution(r) for r in sandbox.velt.executions.values()],
        "zaia": [nesting.parse_execution(r) for r in sandbox.nesting.executions.values()],
    }


def expected(
    sandbox: Sandbox,
    *,
    sources: Iterable[str] = LISTABLE,
    keep: Callable[[Execution], bool] = lambda e: True,
) -> list[str]:
    """The feed as the sandbox's stores say it must be (written apart from gateway/core/merge.py)."""
    everything = parsed(sandbox)
    rows: list[tuple[bool, datetime, str]] = []
    for source in sources:
        for execution in everything[source]:
            if keep(execution):
                moment = execution.started_at or execution.created_at
                rows.append(
                    (
                        moment is not None,
                        moment or datetime.min.replace(tzinfo=UTC),
                        ids.execution_id(source, execution.native_id),
                    )
                )
    return [row[2] for row in sorted(rows, reverse=True)]


async def feed_page(
    client: httpx.AsyncClient,
    first: int,
    after: str | None = None,
    filter: dict[str, Any] | None = None,
    query: str = FEED,
) -> dict[str, Any]:
    body = await graphql(client, query, {"first": first, "after": after, "filter": filter})
    assert "errors" not in body, body
    page: dict[str, Any] = body["data"]["executionFeed"]
    assert len(page["edges"]) <= first
    return page


async def walk(
    client: httpx.AsyncClient, first: int, filter: dict[str, Any] | None = None
) -> list[str]:
    """Every page to the end; the node ids in the order they came."""
    seen: list[str] = []
    after = None
    for _ in range(1000):
        page = await feed_page(client, first, after, filter)
        seen += [edge["node"]["id"] for edge in page["edges"]]
        info = page["pageInfo"]
        if page["edges"] and info["hasNextPage"]:
            assert info["endCursor"] == page["edges"][-1]["cursor"]
        if not info["hasNextPage"]:
            return seen
        after = info["endCursor"]
    raise AssertionError("the feed did not end")


@pytest.mark.parametrize("first", [7, 50, 100])
async def test_paging_the_feed_visits_every_listable_execution_once_in_order(
    gateway: httpx.AsyncClient, sandbox: Sandbox, first: int
) -> None:
    seen = await walk(gateway, first)
    assert seen == expected(sandbox)
    assert len(seen) == 3 * 240


async def test_truthlocks_is_skipped_and_said_so(gateway: httpx.AsyncClient) -> None:
    page = await feed_page(gateway, 3)
    assert [s["source"] for s in page["skippedSources"]] == ["tl"]
    assert "cannot list" in page["skippedSources"][0]["reason"]
    assert page["failedSources"] == []
    assert page["totalCount"] is None  # the sandbox's lists give no totals
    only_rv = await feed_page(gateway, 3, filter={"sources": ["rv"]})
    assert only_rv["skippedSources"] == []
    only_tl = await feed_page(gateway, 3, filter={"sources": ["tl"]})
    assert only_tl["edges"] == []
    assert only_tl["pageInfo"] == {"hasNextPage": False, "endCursor": None}
    assert [s["source"] for s in only_tl["skippedSources"]] == ["tl"]


async def test_capabilities_say_which_sources_list(gateway: httpx.AsyncClient) -> None:
    body = await graphql(gateway, "{ sources { name capabilities } }")
    assert {s["name"]: s["capabilities"] for s in body["data"]["sources"]} == {
        "rv": ["APPROVE", "GET", "LIST"],
        "zaia": ["CHILDREN", "GET", "LIST"],
        "tl": ["GET"],
        "velt": ["APPROVE", "GET", "LIST"],
    }


@pytest.mark.parametrize(
    "statuses",
    [["COMPLETED"], ["FAILED"], ["WAITING_FOR_APPROVAL"], ["RUNNING"], ["FAILED", "CANCELLED"]],
)
async def test_status_filters_match_the_full_executions(
    gateway: httpx.AsyncClient, sandbox: Sandbox, statuses: list[str]
) -> None:
    want = expected(sandbox, keep=lambda e: e.status.value in statuses)
    assert want
    seen = await walk(gateway, 50, {"statuses": statuses})
    assert seen == want
    if statuses == ["WAITING_FOR_APPROVAL"]:
        # Velt lists these as plain "running": they were loaded to tell.
        assert any(i.startswith("velt:") for i in seen)
        assert sandbox.stats.calls[VELT_GET] > 0


async def test_the_listed_status_of_a_velt_run_waiting_for_a_human_is_the_real_one(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    query = FEED.replace("node { id }", "node { id status }")
    page = await feed_page(gateway, 40, filter={"sources": ["velt"]}, query=query)
    truth = {ids.execution_id("velt", e.native_id): e.status.value for e in parsed(sandbox)["velt"]}
    shown = {e["node"]["id"]: e["node"]["status"] for e in page["edges"]}
    assert shown == {i: truth[i] for i in shown}
    assert "WAITING_FOR_APPROVAL" in shown.values()
    # Only the running ones had to be read in full.
    assert sandbox.stats.calls[VELT_GET] == sum(
        1 for s in shown.values() if s in ("RUNNING", "WAITING_FOR_APPROVAL")
    )


async def test_source_and_workflow_filters(gateway: httpx.AsyncClient, sandbox: Sandbox) -> None:
    seen = await walk(gateway, 100, {"sources": ["velt", "tl"]})
    assert seen == expected(sandbox, sources=["velt"])
    invoice = await walk(gateway, 50, {"workflowId": "invoice-approval"})
    assert invoice == expected(
        sandbox, keep=lambda e: e.workflow is not None and e.workflow.id == "invoice-approval"
    )
    assert invoice
    both = await walk(
        gateway, 20, {"workflowId": "invoice-approval", "statuses": ["WAITING_FOR_APPROVAL"]}
    )
    assert both == expected(
        sandbox,
        keep=lambda e: (
            e.workflow is not None
            and e.workflow.id == "invoice-approval"
            and e.status.value == "WAITING_FOR_APPROVAL"
        ),
    )
    assert both


def code_of(body: dict[str, Any]) -> str:
    assert body.get("data") is None, body
    (error,) = body["errors"]
    code: str = error["extensions"]["code"]
    return code


async def test_bad_input_is_refused(gateway: httpx.AsyncClient) -> None:
    page = await feed_page(gateway, 5)
    cursor = page["pageInfo"]["endCursor"]
    body, mac = cursor.split(".")
    tampered = f"{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{mac}"
    refused: list[dict[str, Any]] = [
        {"first": 101},
        {"first": 0},
        {"first": 5, "after": tampered},
        {"first": 5, "after": "not-a-cursor"},
        {"first": 5, "after": cursor, "filter": {"statuses": ["COMPLETED"]}},
        {"first": 5, "after": cursor, "filter": {"sources": ["rv"]}},
        {"first": 5, "filter": {"sources": ["nope"]}},
        {"first": 5, "filter": {"sources": []}},
        {"first": 5, "filter": {"statuses": []}},
    ]
    for variables in refused:
        answer = await graphql(gateway, FEED, {"after": None, "filter": None, **variables})
        assert code_of(answer) == "BAD_USER_INPUT", (variables, answer)
    another = await graphql(
        gateway,
        "query ($after: String) { pendingApprovals(first: 1, after: $after) { edges { cursor } } }",
        {"after": cursor},
    )
    assert code_of(another) == "BAD_USER_INPUT"
    again = await feed_page(gateway, 5, cursor)
    assert again["edges"]


async def test_velt_down_the_others_answer_and_after_recovery_nothing_is_lost(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    async with gateway_client(sandbox_url, sources={"velt": NO_RETRIES}) as client:
        sandbox.faults.update({"fail_rate": 1.0, "only": "/v2/workflow/"})
        seen: list[str] = []
        after = None
        for _ in range(3):
            answer = await graphql(client, FEED, {"first": 50, "after": after, "filter": None})
            page = answer["data"]["executionFeed"]
            assert len(page["edges"]) == 50
            assert [f["source"] for f in page["failedSources"]] == ["velt"]
            assert page["failedSources"][0]["code"] == "UPSTREAM_UNAVAILABLE"
            (error,) = answer["errors"]
            assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
            assert error["extensions"]["source"] == "velt"
            assert error["path"] == ["executionFeed"]
            assert page["pageInfo"]["hasNextPage"]
            seen += [e["node"]["id"] for e in page["edges"]]
            after = page["pageInfo"]["endCursor"]
        sandbox.faults.update({"fail_rate": 0.0, "only": ""})
        page = await feed_page(client, 50, after)
        assert page["failedSources"] == []
        seen += [e["node"]["id"] for e in page["edges"]]
        while page["pageInfo"]["hasNextPage"]:
            page = await feed_page(client, 50, page["pageInfo"]["endCursor"])
            seen += [e["node"]["id"] for e in page["edges"]]
    # Velt's runs are the oldest in the sandbox, so here even the order is exact.
    assert seen == expected(sandbox)


async def test_a_source_down_mid_feed_is_resumed_where_it_stopped(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    """Zaia's runs interleave with Rotavision's: after recovery they come late, but once each."""
    async with gateway_client(sandbox_url, sources={"zaia": NO_RETRIES}) as client:
        seen: list[str] = []
        after = None
        failed_pages = 0
        for number in range(1000):
            down = 2 <= number < 5
            sandbox.faults.update({"fail_rate": 1.0 if down else 0.0, "only": "/api/v1/"})
            answer = await graphql(client, FEED, {"first": 30, "after": after, "filter": None})
            page = answer["data"]["executionFeed"]
            failed = [f["source"] for f in page["failedSources"]]
            assert failed == (["zaia"] if down else [])
            if down:
                failed_pages += 1
                assert [e["extensions"]["source"] for e in answer["errors"]] == ["zaia"]
                assert not any(e["node"]["id"].startswith("zaia:") for e in page["edges"])
            else:
                assert "errors" not in answer
            seen += [e["node"]["id"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
    assert failed_pages == 3
    assert len(seen) == len(set(seen))
    assert sorted(seen) == sorted(expected(sandbox))


async def test_steps_of_a_page_of_velt_items_cost_one_batched_round(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    stats = "{ sources { name stats { batches batchedKeys } } }"

    async def velt_stats() -> dict[str, int]:
        body = await graphql(gateway, stats)
        (found,) = [s["stats"] for s in body["data"]["sources"] if s["name"] == "velt"]
        return found  # type: ignore[no-any-return]

    before = await velt_stats()
    query = FEED.replace(
        "node { id }", "node { id status steps { id kind status } approvals { id status } }"
    )
    page = await feed_page(gateway, 20, filter={"sources": ["velt"]}, query=query)
    after = await velt_stats()
    assert len(page["edges"]) == 20
    assert sandbox.stats.calls[VELT_GET] == 20
    assert after["batches"] - before["batches"] == 1
    assert after["batchedKeys"] - before["batchedKeys"] == 20
    for edge in page["edges"]:
        native = ids.parse_execution_id(edge["node"]["id"]).native_id
        assert len(edge["node"]["steps"]) == len(sandbox.velt.executions[native]["steps"])


async def test_a_page_of_ids_reads_no_execution_and_complete_items_are_cached(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    page = await feed_page(gateway, 100)
    assert len(page["edges"]) == 100
    assert sandbox.stats.calls[VELT_GET] == 0
    assert sandbox.stats.calls["GET /api/v1/executions/nestings"] == 0
    completed = next(
        ids.execution_id("rv", e.native_id)
        for e in parsed(sandbox)["rv"]
        if e.status.value == "COMPLETED"
        and ids.execution_id("rv", e.native_id) in {x["node"]["id"] for x in page["edges"]}
    )
    body = await graphql(
        gateway, "query ($id: ID!) { execution(id: $id) { steps { id } } }", {"id": completed}
    )
    assert body["data"]["execution"]["steps"]
    assert sandbox.stats.calls[RV_GET] == 0


async def test_children_of_a_listed_nesting_run_come_from_one_nestings_call(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    query = FEED.replace("node { id }", "node { id children { id } }")
    page = await feed_page(gateway, 10, filter={"sources": ["zaia"]}, query=query)
    kids = {e["node"]["id"]: [c["id"] for c in e["node"]["children"]] for e in page["edges"]}
    records = sandbox.nesting.executions
    for global_id, children in kids.items():
        native = ids.parse_execution_id(global_id).native_id
        want = [r["id"] for r in sandbox.nesting.children_of(native)]
        assert sorted(ids.parse_execution_id(c).native_id for c in children) == sorted(want)
        assert native in records
    assert sandbox.stats.calls["GET /api/v1/executions/nestings"] == len(kids)  # one per run


async def test_when_full_reads_fail_only_those_nodes_are_null(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    async with gateway_client(sandbox_url, sources={"velt": NO_RETRIES}) as client:
        sandbox.faults.update({"fail_rate": 1.0, "only": "executions/get"})
        query = FEED.replace("node { id }", "node { id steps { id } }")
        answer = await graphql(
            client, query, {"first": 5, "after": None, "filter": {"sources": ["velt"]}}
        )
        page = answer["data"]["executionFeed"]
        assert [e["node"] for e in page["edges"]] == [None] * 5
        assert page["pageInfo"]["hasNextPage"]
        assert len(answer["errors"]) == 5
        assert {e["extensions"]["source"] for e in answer["errors"]} == {"velt"}
        assert all(e["path"][:2] == ["executionFeed", "edges"] for e in answer["errors"])
        # A filter that needs the full runs cannot judge Velt's: Velt fails, rv still answers.
        answer = await graphql(
            client, FEED, {"first": 5, "after": None, "filter": {"statuses": ["RUNNING"]}}
        )
        page = answer["data"]["executionFeed"]
        assert [f["source"] for f in page["failedSources"]] == ["velt"]
        assert len(page["edges"]) == 5


NESTING_LIST = "GET /api/v1/executions"


@pytest.mark.parametrize("list_order", ["asc", "auto"])
async def test_an_upstream_that_lists_oldest_first_still_gives_an_exact_newest_first_feed(
    list_order: str,
) -> None:
    """The nesting list's order is not documented: against one that lists oldest first, the feed
    is still exactly newest first, and one feed page reads a few list pages, not the whole list."""
    from sandbox import SandboxConfig
    from tests.serving import serving

    oldest_first = Sandbox(SandboxConfig(nesting_list_order="asc"))
    async with serving(oldest_first.app(), lifespan="off") as url:
        sources = {"zaia": {"list_order": list_order}}
        async with gateway_client(url, sources=sources) as client:
            first_page = await feed_page(client, 10, filter={"sources": ["zaia"]})
            # Page 1, then pages probed to find the last one: O(log pages), far below all of them.
            list_calls = oldest_first.stats.calls[NESTING_LIST]
            assert 2 <= list_calls <= 12, list_calls
            seen = [e["node"]["id"] for e in first_page["edges"]]
            assert seen == expected(oldest_first, sources=["zaia"])[:10]
            walked = await walk(client, 25, filter={"sources": ["zaia"]})
    assert walked == expected(oldest_first, sources=["zaia"])
