"""``Execution.events``: the timeline derived from the payload, paged."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.serving import graphql

if TYPE_CHECKING:
    from tests.live.support import Live

pytestmark = pytest.mark.e2e

EVENTS = """query($id: ID!, $first: Int!, $after: String) {
  execution(id: $id) { events(first: $first, after: $after) {
    edges { node { kind at stepNativeId actor } } pageInfo { hasNextPage endCursor } } } }"""


def approved_velt_run(live: Live) -> str:
    for native_id, run in live.sandbox.velt.executions.items():
        for step in run["steps"]:
            output = step.get("output") or {}
            human = step.get("nodeType") == "human"
            if human and output.get("decision") == "approve" and run["status"] == "completed":
                return native_id
    raise AssertionError("no approved Velt run in the sandbox")


async def test_a_velt_run_tells_steps_and_who_approved_in_time_order(live: Live) -> None:
    native = approved_velt_run(live)
    body = await graphql(live.http, EVENTS, {"id": f"velt:{native}", "first": 100})
    assert "errors" not in body, body
    events = [e["node"] for e in body["data"]["execution"]["events"]["edges"]]
    kinds = [e["kind"] for e in events]
    assert kinds[0] in ("EXECUTION_CREATED", "EXECUTION_STARTED")
    assert kinds[-1] == "EXECUTION_COMPLETED"
    approved = next(e for e in events if e["kind"] == "APPROVAL_APPROVED")
    assert approved["actor"]
    assert approved["stepNativeId"]
    times = [e["at"] for e in events]
    assert all(times)
    assert times == sorted(times)


async def test_events_page_with_first_and_after(live: Live) -> None:
    native = approved_velt_run(live)
    whole = await graphql(live.http, EVENTS, {"id": f"velt:{native}", "first": 100})
    expected = [e["node"] for e in whole["data"]["execution"]["events"]["edges"]]
    paged: list[dict[str, object]] = []
    after = None
    for _ in range(len(expected)):
        page = await graphql(
            live.http, EVENTS, {"id": f"velt:{native}", "first": 2, "after": after}
        )
        connection = page["data"]["execution"]["events"]
        paged += [e["node"] for e in connection["edges"]]
        after = connection["pageInfo"]["endCursor"]
        if not connection["pageInfo"]["hasNextPage"]:
            break
    assert paged == expected


async def test_a_cursor_of_another_execution_is_refused(live: Live) -> None:
    native = approved_velt_run(live)
    page = await graphql(live.http, EVENTS, {"id": f"velt:{native}", "first": 1})
    cursor = page["data"]["execution"]["events"]["pageInfo"]["endCursor"]
    other = await graphql(live.http, EVENTS, {"id": "rv:exec_xyz789", "first": 1, "after": cursor})
    assert other["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


GET_EVENTS = "POST /v2/workflow/executions/getEvents"


async def test_a_velt_timeline_is_velts_own_event_log(live: Live) -> None:
    native = approved_velt_run(live)
    calls = live.sandbox.stats.calls[GET_EVENTS]
    body = await graphql(live.http, EVENTS, {"id": f"velt:{native}", "first": 100})
    assert "errors" not in body, body
    assert live.sandbox.stats.calls[GET_EVENTS] == calls + 1
    events = [e["node"] for e in body["data"]["execution"]["events"]["edges"]]
    upstream = live.sandbox.velt.events(native, 0, 500)["events"]
    # Velt's log, kind for kind (plus the decision, which the log does not carry), in seq order.
    logged = [e["kind"] for e in events if not e["kind"].startswith("APPROVAL_A")]
    assert len(logged) == len(upstream)
    assert logged[0] == "EXECUTION_STARTED"
    assert "APPROVAL_REQUESTED" in logged
    assert logged[-1] == "EXECUTION_COMPLETED"


async def test_an_event_log_that_cannot_be_read_leaves_the_derived_timeline_and_an_error(
    live: Live,
) -> None:
    native = approved_velt_run(live)
    live.sandbox.faults.update({"mode": "unavailable", "only": "getEvents"})
    body = await graphql(live.http, EVENTS, {"id": f"velt:{native}", "first": 100})
    events = [e["node"]["kind"] for e in body["data"]["execution"]["events"]["edges"]]
    assert events[-1] == "EXECUTION_COMPLETED"  # derived from the payload instead
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert error["extensions"]["source"] == "velt"
    assert error["path"] == ["execution", "events"]
