"""Rotavision-style adapter: the pure parser on the documented payloads, the client over respx."""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from adapters.base import Credentials
from adapters.engine import HTTPSettings
from adapters.errors import (
    ExecutionNotFound,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.model import ApprovalStatus, ExecutionStatus, StepKind, StepStatus
from adapters.rotavision import RotavisionAdapter, RotavisionOptions, approval_key, parse_execution

SHARED = Path(__file__).resolve().parents[3] / "shared" / "upstreams" / "rotavision.txt"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rotavision"


def doc_example() -> dict[str, Any]:
    """The GET example from the vendor's page, as the fixture file holds it."""
    data: dict[str, Any] = json.loads((FIXTURES / "get_execution_completed.json").read_text())
    return data


def test_fixture_is_the_vendor_example() -> None:
    if not SHARED.exists():
        pytest.skip("the vendors' documents (shared/) are not next to this checkout")
    text = SHARED.read_text()
    start = text.index('{\n  "id"')
    vendor, _ = json.JSONDecoder().raw_decode(text[start:])
    ours = doc_example()
    assert vendor["id"] == ours["id"]
    assert [s["id"] for s in vendor["steps"]] == [s["id"] for s in ours["steps"]]
    assert vendor["cost"] == ours["cost"]


def test_doc_example_parses_to_the_unified_model() -> None:
    execution = parse_execution(doc_example())
    assert execution.native_id == "exec_xyz789"
    assert execution.status is ExecutionStatus.COMPLETED
    assert execution.upstream_status == "completed"
    assert execution.workflow is not None
    assert execution.workflow.id == "wf_abc123"
    assert execution.workflow.name == "Customer Support Triage"
    assert execution.started_at == datetime(2026, 2, 1, 10, 30, tzinfo=UTC)
    assert execution.completed_at == datetime(2026, 2, 1, 10, 32, 7, tzinfo=UTC)
    assert execution.duration_ms == 126650
    assert execution.cost is not None
    assert {(m.currency, m.amount) for m in execution.cost.amounts} == {
        ("USD", Decimal("0.012")),
        ("INR", Decimal("1.0")),
    }
    assert [s.native_id for s in execution.steps] == ["step_1", "step_2", "step_3"]
    assert [s.status for s in execution.steps] == [StepStatus.COMPLETED] * 3
    assert execution.steps[1].kind is StepKind.HUMAN_APPROVAL
    assert execution.steps[0].kind is StepKind.UNKNOWN
    assert execution.steps[0].upstream_kind == "classifier"
    assert execution.raw["id"] == "exec_xyz789"


def test_human_step_output_becomes_a_decided_approval() -> None:
    (approval,) = parse_execution(doc_example()).approvals
    assert approval.status is ApprovalStatus.APPROVED
    assert approval.decided_by == doc_example()["steps"][1]["output"]["approved_by"]
    assert approval.notes == "Approve - customer has valid complaint"
    assert approval.step_native_id == "step_2"
    assert approval.key == "escalation"


def waiting_payload() -> dict[str, Any]:
    return {
        "id": "exec_w1",
        "workflow_id": "wf_1",
        "status": "waiting_approval",
        "current_step": "escalation",
        "waiting_for": {
            "type": "human_approval",
            "assignees": ["a@example.com", "b@example.com"],
            "message": "Approve the refund?",
            "context": {"amount": 10},
        },
        "approve_url": "https://example.com/x",
        "created_at": "2026-02-01T10:30:00Z",
    }


def test_waiting_execution_has_one_pending_approval() -> None:
    execution = parse_execution(waiting_payload())
    assert execution.status is ExecutionStatus.WAITING_FOR_APPROVAL
    assert execution.steps == ()
    (approval,) = execution.approvals
    assert approval.status is ApprovalStatus.PENDING
    assert [r.id for r in approval.reviewers] == ["a@example.com", "b@example.com"]
    assert approval.message == "Approve the refund?"
    assert approval.context == {"amount": 10}
    assert approval.key == "escalation"


def test_approval_keeps_its_key_across_the_decision() -> None:
    decided = copy.deepcopy(waiting_payload())
    decided["status"] = "completed"
    del decided["waiting_for"]
    del decided["current_step"]
    decided["steps"] = [
        {
            "id": "step_4",
            "agent": "escalation",
            "status": "completed",
            "output": {"approved": False, "approved_by": "a@example.com", "notes": "no"},
        },
    ]
    (before,) = parse_execution(waiting_payload()).approvals
    (after,) = parse_execution(decided).approvals
    assert before.key == after.key
    assert after.status is ApprovalStatus.REJECTED


def decided_payload(*, approved: bool, by: str) -> dict[str, Any]:
    """The waiting payload once decided, as documented: no ``waiting_for``, the human step's
    output ``{approved, approved_by, notes}``."""
    decided = copy.deepcopy(waiting_payload())
    decided["status"] = "completed"
    for gone in ("waiting_for", "current_step", "approve_url"):
        del decided[gone]
    decided["steps"] = [
        {
            "id": "step_1",
            "agent": "escalation",
            "status": "completed",
            "output": {"approved": approved, "approved_by": by, "notes": "checked"},
            "duration_ms": 125000,
        },
    ]
    decided["completed_at"] = "2026-02-01T10:32:07Z"
    return decided


@pytest.mark.parametrize("approved", [True, False])
async def test_a_decided_approval_keeps_what_was_asked(approved: bool) -> None:
    """The decided payload drops the message and the assignees; a review UI keeps showing them."""
    router = respx.Router(base_url=BASE)
    route = router.get("/v1/orchestrate/executions/exec_w1")
    route.side_effect = [
        httpx.Response(200, json=waiting_payload()),
        httpx.Response(200, json=decided_payload(approved=approved, by="b@example.com")),
    ]
    adapter = make_adapter(router)
    (pending,) = (await adapter.get_execution("exec_w1")).approvals
    (decided,) = (await adapter.get_execution("exec_w1")).approvals
    await adapter.aclose()
    status = ApprovalStatus.APPROVED if approved else ApprovalStatus.REJECTED
    assert (decided.key, decided.status, decided.decided_by) == (
        pending.key,
        status,
        "b@example.com",
    )
    assert (decided.message, decided.context) == ("Approve the refund?", {"amount": 10})
    assert [(r.id, r.decision) for r in decided.reviewers] == [
        ("a@example.com", None),
        ("b@example.com", status),
    ]
    assert (decided.notes, decided.step_native_id) == ("checked", "step_1")


async def test_a_decided_approval_never_seen_pending_shows_what_the_payload_has() -> None:
    router = respx.Router(base_url=BASE)
    payload = decided_payload(approved=True, by="a@example.com")
    router.get("/v1/orchestrate/executions/exec_w1").respond(200, json=payload)
    adapter = make_adapter(router)
    (decided,) = (await adapter.get_execution("exec_w1")).approvals
    await adapter.aclose()
    assert decided.message is None
    assert [r.id for r in decided.reviewers] == ["a@example.com"]


async def test_the_list_remembers_what_was_asked_too() -> None:
    router = respx.Router(base_url=BASE)
    listed = router.get("/v1/orchestrate/executions")
    listed.side_effect = [
        httpx.Response(200, json={"data": [waiting_payload()], "has_more": False}),
        httpx.Response(
            200,
            json={"data": [decided_payload(approved=False, by="a@example.com")], "has_more": False},
        ),
    ]
    adapter = make_adapter(router)
    await adapter.list_executions(cursor=None, page_size=10)
    page = await adapter.list_executions(cursor=None, page_size=10)
    await adapter.aclose()
    (decided,) = page.items[0].approvals
    assert decided.status is ApprovalStatus.REJECTED
    assert decided.message == "Approve the refund?"
    assert [r.id for r in decided.reviewers] == ["a@example.com", "b@example.com"]


def asked_twice() -> dict[str, Any]:
    """The documented waiting shape, after the documented completed steps up to step_3: the
    same human agent (``escalation``) is asked a second time."""
    payload = {**waiting_payload(), "steps": copy.deepcopy(doc_example()["steps"])}
    return payload


def test_each_time_a_human_step_is_asked_is_its_own_approval() -> None:
    execution = parse_execution(asked_twice())
    first, second = execution.approvals
    assert (first.key, first.status, first.step_native_id) == (
        "escalation",
        ApprovalStatus.APPROVED,
        "step_2",
    )
    assert (second.key, second.status, second.step_native_id) == (
        "escalation~2",
        ApprovalStatus.PENDING,
        None,
    )


def test_the_second_occurrence_keeps_its_key_across_the_decision() -> None:
    decided = asked_twice()
    decided["status"] = "completed"
    del decided["waiting_for"]
    del decided["current_step"]
    decided["steps"].append(
        {
            "id": "step_4",
            "agent": "escalation",
            "status": "completed",
            "output": {"approved": False, "approved_by": "b@example.com", "notes": "no"},
        }
    )
    keys = [a.key for a in parse_execution(decided).approvals]
    assert keys == ["escalation", "escalation~2"]
    assert parse_execution(decided).approval("escalation~2") is not None
    assert approval_key("escalation", 3) == "escalation~3"


@pytest.mark.parametrize(
    ("word", "status"),
    [
        pytest.param("running", ExecutionStatus.RUNNING, id="running"),
        pytest.param("waiting_approval", ExecutionStatus.WAITING_FOR_APPROVAL, id="waiting"),
        pytest.param("completed", ExecutionStatus.COMPLETED, id="completed"),
        pytest.param("failed", ExecutionStatus.FAILED, id="failed"),
        pytest.param("cancelled", ExecutionStatus.CANCELLED, id="cancelled"),
        pytest.param("Canceled", ExecutionStatus.CANCELLED, id="us-spelling"),
        pytest.param("timeout", ExecutionStatus.TIMED_OUT, id="timeout"),
        pytest.param("TIMED-OUT", ExecutionStatus.TIMED_OUT, id="timed-out-shouting"),
        pytest.param("queued", ExecutionStatus.PENDING, id="queued"),
        pytest.param("paused", ExecutionStatus.UNKNOWN, id="unknown-word"),
        pytest.param(None, ExecutionStatus.UNKNOWN, id="missing"),
    ],
)
def test_status_words_map_to_unified_statuses(word: str | None, status: ExecutionStatus) -> None:
    payload = {"id": "exec_1", "status": word}
    execution = parse_execution(payload)
    assert execution.status is status
    assert execution.upstream_status == word


def test_failed_execution_keeps_its_error() -> None:
    payload = {
        "id": "exec_f",
        "status": "failed",
        "error": {"code": "agent_error", "message": "boom"},
        "steps": [{"id": "step_1", "agent": "a", "status": "failed", "error": "it broke"}],
    }
    execution = parse_execution(payload)
    assert execution.status is ExecutionStatus.FAILED
    assert execution.error is not None
    assert (execution.error.code, execution.error.message) == ("agent_error", "boom")
    assert execution.steps[0].status is StepStatus.FAILED
    assert execution.steps[0].error is not None
    assert execution.steps[0].error.message == "it broke"


def test_extra_fields_and_wrong_types_are_tolerated() -> None:
    payload = {
        "id": "exec_x",
        "status": "completed",
        "brand_new_field": {"nested": [1, 2]},
        "cost": {"usd": "not a number", "eur": 2, "tokens": 5},
        "duration_ms": "12",
        "created_at": "yesterday",
        "steps": ["not an object", {"agent": "a", "status": 7}],
    }
    execution = parse_execution(payload)
    assert execution.cost is not None
    assert [(m.currency, m.amount) for m in execution.cost.amounts] == [("EUR", Decimal(2))]
    assert execution.duration_ms == 12
    assert execution.created_at is None
    assert len(execution.steps) == 1
    assert execution.steps[0].native_id == "step_1"
    assert execution.steps[0].status is StepStatus.UNKNOWN


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param([], id="array"),
        pytest.param({"status": "running"}, id="no-id"),
        pytest.param(None, id="null"),
    ],
)
def test_payload_without_an_execution_is_refused(payload: Any) -> None:
    from adapters.errors import PayloadError

    with pytest.raises(PayloadError):
        parse_execution(payload)


# --- client, over respx ---------------------------------------------------------------------

BASE = "https://rv.test"


def make_adapter(router: respx.Router) -> RotavisionAdapter:
    adapter = RotavisionAdapter.create(
        name="rv",
        base_url=BASE,
        credentials=Credentials(api_key="rv_test_secret"),
        settings=HTTPSettings(timeout_s=1.0),
        transport=httpx.MockTransport(router.async_handler),
    )
    assert isinstance(adapter, RotavisionAdapter)
    return adapter


async def test_client_sends_the_bearer_key_and_parses() -> None:
    router = respx.Router(base_url=BASE)
    route = router.get("/v1/orchestrate/executions/exec_xyz789").respond(200, json=doc_example())
    adapter = make_adapter(router)
    execution = await adapter.get_execution("exec_xyz789")
    await adapter.aclose()
    assert execution.status is ExecutionStatus.COMPLETED
    assert route.call_count == 1
    assert route.calls.last.request.headers["authorization"] == "Bearer rv_test_secret"


@pytest.mark.parametrize(
    ("response", "error", "code"),
    [
        pytest.param(
            httpx.Response(
                404, json={"error": {"code": "execution_not_found", "type": "not_found_error"}}
            ),
            ExecutionNotFound,
            "NOT_FOUND",
            id="404",
        ),
        pytest.param(
            httpx.Response(
                401, json={"error": {"code": "invalid_api_key", "type": "authentication_error"}}
            ),
            UpstreamAuthFailed,
            "UPSTREAM_AUTH",
            id="401",
        ),
        pytest.param(
            httpx.Response(403, text="forbidden"), UpstreamAuthFailed, "UPSTREAM_AUTH", id="403"
        ),
        pytest.param(
            httpx.Response(500, text="oops"), UpstreamUnavailable, "UPSTREAM_UNAVAILABLE", id="500"
        ),
        pytest.param(
            httpx.Response(503, json={}), UpstreamUnavailable, "UPSTREAM_UNAVAILABLE", id="503"
        ),
        pytest.param(
            httpx.Response(429, headers={"retry-after": "7"}, json={}),
            UpstreamRateLimited,
            "UPSTREAM_RATE_LIMITED",
            id="429",
        ),
        pytest.param(
            httpx.Response(200, text="<html>"),
            UpstreamBadResponse,
            "UPSTREAM_BAD_RESPONSE",
            id="not-json",
        ),
        pytest.param(
            httpx.Response(200, json=[1, 2]),
            UpstreamBadResponse,
            "UPSTREAM_BAD_RESPONSE",
            id="wrong-shape",
        ),
        pytest.param(
            httpx.Response(200, json={"status": "completed"}),
            UpstreamBadResponse,
            "UPSTREAM_BAD_RESPONSE",
            id="no-id",
        ),
    ],
)
async def test_upstream_failures_become_typed_errors(
    response: httpx.Response, error: type[UpstreamError], code: str
) -> None:
    router = respx.Router(base_url=BASE)
    router.get("/v1/orchestrate/executions/exec_1").mock(return_value=response)
    adapter = make_adapter(router)
    with pytest.raises(error) as caught:
        await adapter.get_execution("exec_1")
    await adapter.aclose()
    assert caught.value.code == code
    assert caught.value.source == "rv"
    assert "rv_test_secret" not in str(caught.value)
    if isinstance(caught.value, UpstreamRateLimited):
        assert caught.value.retry_after == 7.0


async def test_timeout_becomes_upstream_timeout() -> None:
    router = respx.Router(base_url=BASE)
    router.get("/v1/orchestrate/executions/exec_1").mock(side_effect=httpx.ReadTimeout("slow"))
    adapter = make_adapter(router)
    with pytest.raises(UpstreamTimeout) as caught:
        await adapter.get_execution("exec_1")
    await adapter.aclose()
    assert caught.value.code == "UPSTREAM_TIMEOUT"


async def test_refused_connection_becomes_unavailable() -> None:
    router = respx.Router(base_url=BASE)
    router.get("/v1/orchestrate/executions/exec_1").mock(side_effect=httpx.ConnectError("refused"))
    adapter = make_adapter(router)
    with pytest.raises(UpstreamUnavailable):
        await adapter.get_execution("exec_1")
    await adapter.aclose()


@pytest.mark.parametrize(
    ("native_id", "raw_path"),
    [
        pytest.param("a/b", b"/v1/orchestrate/executions/a%2Fb", id="slash"),
        pytest.param("..", b"/v1/orchestrate/executions/%2E%2E", id="dot-dot"),
        pytest.param(".", b"/v1/orchestrate/executions/%2E", id="dot"),
        pytest.param("x?admin=1", b"/v1/orchestrate/executions/x%3Fadmin%3D1", id="query"),
        pytest.param("50%", b"/v1/orchestrate/executions/50%25", id="percent"),
        pytest.param("../../v2/x", b"/v1/orchestrate/executions/..%2F..%2Fv2%2Fx", id="traversal"),
        pytest.param("a#b", b"/v1/orchestrate/executions/a%23b", id="fragment"),
    ],
)
async def test_no_id_changes_the_upstream_path(native_id: str, raw_path: bytes) -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, json={})

    adapter = RotavisionAdapter.create(
        name="rv",
        base_url=BASE,
        credentials=Credentials(api_key="k"),
        settings=HTTPSettings(),
        transport=httpx.MockTransport(record),
    )
    with pytest.raises(ExecutionNotFound):
        await adapter.get_execution(native_id)
    await adapter.aclose()
    (request,) = seen
    assert request.url.raw_path == raw_path
    assert request.url.query == b""


# --- step kinds from the workflow definition ------------------------------------------------

WORKFLOW = {
    "id": "wf_abc123",
    "name": "Customer Support Triage",
    "status": "active",
    "version": 1,
    "agents": [
        {"id": "classifier", "type": "llm"},
        {"id": "escalation", "type": "human"},
        {"id": "responder", "type": "llm"},
        {"id": "broken"},
    ],
}


def test_agent_types_come_from_the_definition() -> None:
    from adapters.rotavision import parse_agent_types

    assert parse_agent_types(WORKFLOW) == {
        "classifier": "llm",
        "escalation": "human",
        "responder": "llm",
    }


def test_agent_types_give_unknown_steps_their_kind() -> None:
    from adapters.rotavision import apply_agent_types

    execution = apply_agent_types(
        parse_execution(doc_example()), {"classifier": "llm", "responder": "search"}
    )
    assert [s.kind for s in execution.steps] == [
        StepKind.AGENT,
        StepKind.HUMAN_APPROVAL,
        StepKind.SEARCH,
    ]
    assert execution.steps[0].upstream_kind == "llm"


async def test_definitions_are_fetched_once_per_workflow_and_failures_degrade() -> None:
    router = respx.Router(base_url=BASE)
    payload = doc_example()
    other = {**doc_example(), "id": "exec_other"}
    router.get("/v1/orchestrate/executions/exec_xyz789").respond(200, json=payload)
    router.get("/v1/orchestrate/executions/exec_other").respond(200, json=other)
    definition = router.get("/v1/orchestrate/workflows/wf_abc123").respond(200, json=WORKFLOW)
    adapter = RotavisionAdapter.create(
        name="rv",
        base_url=BASE,
        credentials=Credentials(api_key="k"),
        settings=HTTPSettings(),
        transport=httpx.MockTransport(router.async_handler),
        options=RotavisionOptions(step_kinds_from_workflow=True),
    )
    first, second = await asyncio.gather(
        adapter.get_execution("exec_xyz789"), adapter.get_execution("exec_other")
    )
    third = await adapter.get_execution("exec_xyz789")
    assert [s.kind for s in first.steps] == [
        StepKind.AGENT,
        StepKind.HUMAN_APPROVAL,
        StepKind.AGENT,
    ]
    assert second.steps == first.steps
    assert third.steps == first.steps
    assert definition.call_count == 1

    definition.respond(503, json={})
    payload_b = {**doc_example(), "id": "exec_b", "workflow_id": "wf_gone"}
    router.get("/v1/orchestrate/executions/exec_b").respond(200, json=payload_b)
    router.get("/v1/orchestrate/workflows/wf_gone").respond(404, json={})
    degraded = await adapter.get_execution("exec_b")
    await adapter.aclose()
    assert degraded.status is ExecutionStatus.COMPLETED
    assert degraded.steps[0].kind is StepKind.UNKNOWN


async def test_without_the_option_no_definition_is_fetched() -> None:
    router = respx.Router(base_url=BASE)
    router.get("/v1/orchestrate/executions/exec_xyz789").respond(200, json=doc_example())
    definition = router.get("/v1/orchestrate/workflows/wf_abc123").respond(200, json=WORKFLOW)
    adapter = make_adapter(router)
    execution = await adapter.get_execution("exec_xyz789")
    await adapter.aclose()
    assert execution.steps[0].kind is StepKind.UNKNOWN
    assert definition.call_count == 0
