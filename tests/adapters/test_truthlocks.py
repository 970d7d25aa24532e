"""The Truthlocks adapter: both documented payload variants, and the client over respx."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import respx

from adapters.base import Capability, Credentials, Decision
from adapters.engine import HTTPSettings
from adapters.errors import (
    ExecutionNotFound,
    PayloadError,
    UnsupportedOperation,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamConflict,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.model import (
    Approval,
    ApprovalStatus,
    ErrorInfo,
    ExecutionStatus,
    Money,
    SourceKind,
    StepKind,
    StepStatus,
)
from adapters.registry import adapter_class
from adapters.truthlocks import TruthlocksAdapter, parse_execution

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from adapters.base import SourceAdapter

BASE_URL = "https://tl.test"
ORCH_URL = f"{BASE_URL}/v1/orchestrations/"
ULID_ID = "maip-orch:01JBZ8Q2X7K3M9N4P5R6S7T8V9"

# The OpenAPI example of shared/upstreams/truthlocks.txt, verbatim.
DOC_VARIANT_B: dict[str, Any] = {
    "orchestration_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
    "workflow_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
    "agents": ["3c90c3cc-0d44-4b50-8888-8dd25736052a"],
    "parameters": {},
    "status": "pending",
    "steps": [
        {
            "step_id": "<string>",
            "agent_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
            "action": "<string>",
            "status": "<string>",
            "result": {},
            "started_at": "2023-11-07T05:31:56Z",
            "completed_at": "2023-11-07T05:31:56Z",
        }
    ],
    "results": {},
    "receipts": ["3c90c3cc-0d44-4b50-8888-8dd25736052a"],
    "created_at": "2023-11-07T05:31:56Z",
}

# Built from the page's prose schema.
PROSE_VARIANT_A: dict[str, Any] = {
    "id": ULID_ID,
    "agent_id": "maip-agent:01JBZ8Q2X7K3M9N4P5R6S7T8AA",
    "workflow_id": "wf-refunds",
    "status": "completed",
    "steps": [
        {
            "step_number": 2,
            "action": "tool_call",
            "result": "Looked up the order",
            "duration_ms": 340,
        },
        {"step_number": 1, "action": "llm_inference", "result": "Classified", "duration_ms": 820},
        {"step_number": 3, "action": "decision", "result": "Refund approved", "duration_ms": 12},
    ],
    "output": {"decision": "refund"},
    "total_cost_cents": 1234.5,
    "receipt_id": "rcpt-1",
    "started_at": "2026-11-01T10:00:00Z",
    "completed_at": "2026-11-01T10:00:02.500Z",
}


def variant_a(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(PROSE_VARIANT_A)
    payload.update(changes)
    return payload


def variant_b(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(DOC_VARIANT_B)
    payload.update(changes)
    return payload


# --- pure parsing ---------------------------------------------------------------------------


def test_doc_variant_b_example() -> None:
    execution = parse_execution(copy.deepcopy(DOC_VARIANT_B))
    when = datetime(2023, 11, 7, 5, 31, 56, tzinfo=UTC)
    assert execution.native_id == "3c90c3cc-0d44-4b50-8888-8dd25736052a"
    assert execution.status is ExecutionStatus.PENDING
    assert execution.upstream_status == "pending"
    assert execution.workflow is not None
    assert execution.workflow.id == "3c90c3cc-0d44-4b50-8888-8dd25736052a"
    assert execution.inputs == {}
    assert execution.outputs == {}
    assert execution.receipts == ("3c90c3cc-0d44-4b50-8888-8dd25736052a",)
    assert execution.created_at == when
    assert execution.started_at == when
    assert execution.completed_at is None
    assert execution.duration_ms is None
    assert execution.cost is None
    assert execution.error is None
    assert execution.approvals == ()
    assert execution.extra == {"variant": "B", "agents": ["3c90c3cc-0d44-4b50-8888-8dd25736052a"]}
    assert execution.raw == DOC_VARIANT_B
    (step,) = execution.steps
    assert step.native_id == "<string>"
    assert step.index == 0
    assert step.name == "<string>"
    assert step.kind is StepKind.UNKNOWN
    assert step.upstream_kind == "<string>"
    assert step.status is StepStatus.UNKNOWN
    assert step.upstream_status == "<string>"
    assert step.agent_id == "3c90c3cc-0d44-4b50-8888-8dd25736052a"
    assert step.output == {}
    assert step.started_at == when
    assert step.completed_at == when
    assert step.duration_ms == 0


def test_prose_variant_a() -> None:
    execution = parse_execution(variant_a())
    assert execution.native_id == ULID_ID
    assert execution.status is ExecutionStatus.COMPLETED
    assert execution.is_terminal
    assert execution.workflow is not None
    assert execution.workflow.id == "wf-refunds"
    assert execution.inputs is None
    assert execution.outputs == {"decision": "refund"}
    assert execution.cost is not None
    assert execution.cost.amounts == (Money(Decimal("12.345"), "USD"),)
    assert execution.receipts == ("rcpt-1",)
    assert execution.started_at == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert execution.created_at == execution.started_at
    assert execution.completed_at == datetime(2026, 11, 1, 10, 0, 2, 500000, tzinfo=UTC)
    assert execution.duration_ms == 2500
    assert execution.extra == {"variant": "A", "agentId": "maip-agent:01JBZ8Q2X7K3M9N4P5R6S7T8AA"}
    assert [s.native_id for s in execution.steps] == ["1", "2", "3"]
    assert [s.index for s in execution.steps] == [0, 1, 2]
    assert [s.name for s in execution.steps] == ["llm_inference", "tool_call", "decision"]
    assert [s.kind for s in execution.steps] == [StepKind.AGENT, StepKind.TOOL, StepKind.DECISION]
    assert [s.status for s in execution.steps] == [StepStatus.COMPLETED] * 3
    assert [s.upstream_status for s in execution.steps] == [None] * 3
    assert [s.output for s in execution.steps] == [
        "Classified",
        "Looked up the order",
        "Refund approved",
    ]
    assert [s.duration_ms for s in execution.steps] == [820, 340, 12]
    assert {s.agent_id for s in execution.steps} == {"maip-agent:01JBZ8Q2X7K3M9N4P5R6S7T8AA"}


def test_variant_a_failed_carries_error() -> None:
    payload = variant_a(status="failed", error={"code": "TOOL_ERROR", "message": "lookup failed"})
    execution = parse_execution(payload)
    assert execution.status is ExecutionStatus.FAILED
    assert execution.error == ErrorInfo(code="TOOL_ERROR", message="lookup failed")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(variant_a(status="running"), ExecutionStatus.RUNNING, id="A-running"),
        pytest.param(variant_a(status="completed"), ExecutionStatus.COMPLETED, id="A-completed"),
        pytest.param(variant_a(status="failed"), ExecutionStatus.FAILED, id="A-failed"),
        pytest.param(variant_a(status="timeout"), ExecutionStatus.TIMED_OUT, id="A-timeout"),
        pytest.param(variant_b(status="pending"), ExecutionStatus.PENDING, id="B-pending"),
        pytest.param(variant_b(status="running"), ExecutionStatus.RUNNING, id="B-running"),
        pytest.param(variant_b(status="completed"), ExecutionStatus.COMPLETED, id="B-completed"),
        pytest.param(variant_b(status="failed"), ExecutionStatus.FAILED, id="B-failed"),
        pytest.param(variant_b(status="cancelled"), ExecutionStatus.CANCELLED, id="B-cancelled"),
        pytest.param(variant_b(status="canceled"), ExecutionStatus.CANCELLED, id="canceled"),
        pytest.param(variant_b(status="created"), ExecutionStatus.PENDING, id="spec-created"),
        pytest.param(variant_b(status="validating"), ExecutionStatus.PENDING, id="spec-validating"),
        pytest.param(variant_b(status="timed_out"), ExecutionStatus.TIMED_OUT, id="spec-timed_out"),
        pytest.param(variant_a(status="Timed-Out"), ExecutionStatus.TIMED_OUT, id="spelling"),
        pytest.param(variant_a(status="COMPLETED"), ExecutionStatus.COMPLETED, id="upper-case"),
    ],
)
def test_execution_status(payload: dict[str, Any], expected: ExecutionStatus) -> None:
    execution = parse_execution(payload)
    assert execution.status is expected
    assert execution.upstream_status == payload["status"]


@pytest.mark.parametrize(
    "word",
    [
        pytest.param("suspended", id="word"),
        pytest.param("", id="empty"),
        pytest.param(None, id="null"),
    ],
)
def test_unknown_status_is_kept(word: str | None) -> None:
    execution = parse_execution(variant_b(status=word))
    assert execution.status is ExecutionStatus.UNKNOWN
    assert execution.upstream_status == word


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        pytest.param("llm_inference", StepKind.AGENT, id="llm_inference"),
        pytest.param("tool_call", StepKind.TOOL, id="tool_call"),
        pytest.param("decision", StepKind.DECISION, id="decision"),
        pytest.param("guardrail_check", StepKind.GUARDRAIL, id="guardrail_check"),
        pytest.param("transform", StepKind.TRANSFORM, id="transform"),
        pytest.param("webhook", StepKind.WEBHOOK, id="webhook"),
        pytest.param("code", StepKind.CODE, id="code"),
        pytest.param("code_execution", StepKind.CODE, id="code_execution"),
        pytest.param("search", StepKind.SEARCH, id="search"),
        pytest.param("retrieval", StepKind.SEARCH, id="retrieval"),
        pytest.param("human_review", StepKind.HUMAN_APPROVAL, id="human_review"),
        pytest.param("approval", StepKind.HUMAN_APPROVAL, id="approval"),
        pytest.param("LLM-Inference", StepKind.AGENT, id="spelling"),
        pytest.param("summon_dragon", StepKind.UNKNOWN, id="unknown"),
    ],
)
def test_step_kind(action: str, kind: StepKind) -> None:
    execution = parse_execution(variant_a(steps=[{"step_number": 1, "action": action}]))
    (step,) = execution.steps
    assert step.kind is kind
    assert step.upstream_kind == action
    assert step.name == action


def test_step_kind_from_type_when_no_action() -> None:
    execution = parse_execution(variant_b(steps=[{"step_id": "s1", "type": "transform"}]))
    assert execution.steps[0].kind is StepKind.TRANSFORM
    assert execution.steps[0].upstream_kind == "transform"


@pytest.mark.parametrize(
    ("word", "status"),
    [
        pytest.param("pending", StepStatus.PENDING, id="pending"),
        pytest.param("running", StepStatus.RUNNING, id="running"),
        pytest.param("completed", StepStatus.COMPLETED, id="completed"),
        pytest.param("failed", StepStatus.FAILED, id="failed"),
        pytest.param("skipped", StepStatus.SKIPPED, id="skipped"),
        pytest.param("timed_out", StepStatus.TIMED_OUT, id="timed_out"),
        pytest.param("timeout", StepStatus.TIMED_OUT, id="timeout"),
        pytest.param("cancelled", StepStatus.CANCELLED, id="cancelled"),
        pytest.param("Canceled", StepStatus.CANCELLED, id="canceled"),
        pytest.param("paused", StepStatus.UNKNOWN, id="unknown"),
    ],
)
def test_variant_b_step_status(word: str, status: StepStatus) -> None:
    # The run is completed: a step's own word must win over any derivation.
    payload = variant_b(
        status="completed", steps=[{"step_id": "s1", "action": "x", "status": word}]
    )
    (step,) = parse_execution(payload).steps
    assert step.status is status
    assert step.upstream_status == word


C, R = StepStatus.COMPLETED, StepStatus.RUNNING


@pytest.mark.parametrize(
    ("run_status", "expected"),
    [
        pytest.param("completed", [C, C, C], id="completed"),
        pytest.param("failed", [C, C, StepStatus.FAILED], id="failed"),
        pytest.param("timeout", [C, C, StepStatus.TIMED_OUT], id="timeout"),
        # "every step executed", each with its outcome and duration: none of them still runs.
        pytest.param("running", [C, C, C], id="running"),
        pytest.param("cancelled", [C, C, StepStatus.CANCELLED], id="cancelled"),
        pytest.param("pending", [C, C, C], id="pending"),
        pytest.param("suspended", [C, C, StepStatus.UNKNOWN], id="unknown"),
    ],
)
def test_variant_a_step_status_is_derived(run_status: str, expected: list[StepStatus]) -> None:
    execution = parse_execution(variant_a(status=run_status))
    assert [s.status for s in execution.steps] == expected
    assert [s.native_id for s in execution.steps] == ["1", "2", "3"]


def test_a_running_variant_a_run_lists_only_ended_steps() -> None:
    """The page's prose: a running orchestration's steps each carry ``result`` and
    ``duration_ms``; their end is known, so no step reads RUNNING (the run does)."""
    execution = parse_execution(
        variant_a(status="running", output=None, receipt_id=None, completed_at=None)
    )
    assert execution.status is ExecutionStatus.RUNNING
    assert [(s.status, s.duration_ms) for s in execution.steps] == [
        (C, 820),
        (C, 340),
        (C, 12),
    ]


@pytest.mark.parametrize(
    ("run_status", "expected"),
    [
        pytest.param("running", [C, C, R], id="running"),
        pytest.param("failed", [C, C, StepStatus.FAILED], id="failed"),
        pytest.param("pending", [StepStatus.PENDING] * 3, id="pending"),
        pytest.param("suspended", [StepStatus.UNKNOWN] * 3, id="unknown"),
    ],
)
def test_variant_a_steps_without_outcome_and_duration_follow_the_run(
    run_status: str, expected: list[StepStatus]
) -> None:
    """Not what the page shows, read tolerantly: a step without an outcome or a duration may be
    the one still running."""
    steps = [
        {"step_number": 1, "action": "llm_inference", "result": "Classified"},
        {"step_number": 2, "action": "tool_call", "duration_ms": 340},
        {"step_number": 3, "action": "decision", "result": "", "duration_ms": None},
    ]
    execution = parse_execution(variant_a(status=run_status, steps=steps))
    assert [s.status for s in execution.steps] == expected


def test_derived_last_step_follows_step_number_not_position() -> None:
    steps = [
        {"step_number": 2, "action": "tool_call"},
        {"step_number": 1, "action": "llm_inference"},
    ]
    execution = parse_execution(variant_a(status="failed", steps=steps))
    assert [(s.native_id, s.status) for s in execution.steps] == [
        ("1", StepStatus.COMPLETED),
        ("2", StepStatus.FAILED),
    ]


def test_steps_keep_upstream_order_without_numbers() -> None:
    steps = [
        {"step_id": "b", "action": "tool_call", "status": "completed"},
        {"step_id": "a", "action": "decision", "status": "running", "step_number": 1},
    ]
    execution = parse_execution(variant_b(status="running", steps=steps))
    assert [(s.index, s.native_id) for s in execution.steps] == [(0, "b"), (1, "a")]


def test_step_without_any_id_gets_its_position() -> None:
    execution = parse_execution(variant_b(steps=[{"action": "x"}, {"action": "y"}, "junk"]))
    assert [s.native_id for s in execution.steps] == ["1", "2"]


def test_step_duration_from_timestamps() -> None:
    step = {
        "step_id": "s1",
        "action": "tool_call",
        "status": "completed",
        "started_at": "2026-11-01T10:00:00Z",
        "completed_at": "2026-11-01T10:00:01.250Z",
    }
    (parsed,) = parse_execution(variant_b(steps=[step])).steps
    assert parsed.duration_ms == 1250


@pytest.mark.parametrize(
    ("cents", "usd"),
    [
        pytest.param(1234.5, Decimal("12.345"), id="fractional-cents"),
        pytest.param(0.1, Decimal("0.001"), id="tenth-of-a-cent"),
        pytest.param(100, Decimal("1"), id="one-dollar"),
        pytest.param(0, Decimal("0"), id="free"),
        pytest.param(12.5, Decimal("0.125"), id="no-float-drift"),
        pytest.param("250", Decimal("2.5"), id="numeric-string"),
    ],
)
def test_cost_cents_to_usd_exactly(cents: object, usd: Decimal) -> None:
    execution = parse_execution(variant_a(total_cost_cents=cents))
    assert execution.cost is not None
    (money,) = execution.cost.amounts
    assert money.currency == "USD"
    assert money.amount == usd
    assert execution.cost.credits is None


@pytest.mark.parametrize(
    "cents",
    [pytest.param(None, id="null"), pytest.param("n/a", id="text"), pytest.param(True, id="bool")],
)
def test_unreadable_cost_is_none(cents: object) -> None:
    assert parse_execution(variant_a(total_cost_cents=cents)).cost is None


@pytest.mark.parametrize(
    ("fields", "receipts"),
    [
        pytest.param({"receipt_id": "r1"}, ("r1",), id="receipt_id"),
        pytest.param({"receipts": ["r1", "r2"]}, ("r1", "r2"), id="receipts-list"),
        pytest.param({"receipt_id": "r1", "receipts": ["r1", "r2"]}, ("r1", "r2"), id="both-dedup"),
        pytest.param({"receipts": ["r1", None, 7, {}]}, ("r1", "7"), id="junk-skipped"),
        pytest.param({}, (), id="none"),
    ],
)
def test_receipts(fields: dict[str, Any], receipts: tuple[str, ...]) -> None:
    assert parse_execution({"id": ULID_ID, **fields}).receipts == receipts


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"id": ULID_ID}, id="variant-A-id-only"),
        pytest.param(
            {"orchestration_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a"}, id="variant-B-id-only"
        ),
        pytest.param(
            {"id": ULID_ID, "steps": None, "agents": None, "receipts": "x", "error": 5},
            id="wrong-types",
        ),
    ],
)
def test_missing_optional_fields(payload: dict[str, Any]) -> None:
    execution = parse_execution(payload)
    assert execution.status is ExecutionStatus.UNKNOWN
    assert execution.upstream_status is None
    assert execution.steps == ()
    assert execution.cost is None
    assert execution.receipts == ()
    assert execution.error is None
    assert execution.inputs is None
    assert execution.outputs is None
    assert execution.created_at is None
    assert execution.started_at is None
    assert execution.completed_at is None
    assert execution.duration_ms is None
    assert execution.workflow is not None
    assert execution.workflow.id is None


def test_extra_fields_are_ignored() -> None:
    payload = variant_a(
        model="gpt-x",
        max_steps=10,
        trace={"spans": [1, 2]},
        steps=[{"step_number": 1, "action": "tool_call", "tokens": 99, "cost_cents": 1}],
    )
    execution = parse_execution(payload)
    assert execution.status is ExecutionStatus.COMPLETED
    assert len(execution.steps) == 1
    assert execution.raw["model"] == "gpt-x"


def test_mixed_variants_are_read_tolerantly() -> None:
    payload = {
        "id": ULID_ID,
        "orchestration_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
        "agent_id": "maip-agent:1",
        "agents": ["a1", "a2"],
        "status": "running",
        "parameters": {"q": 1},
        "results": {"partial": True},
        "created_at": "2026-11-01T09:59:00Z",
        "started_at": "2026-11-01T10:00:00Z",
        "steps": [
            {"step_number": 1, "step_id": "s-1", "action": "llm_inference", "status": "completed"},
            {"step_number": 2, "action": "tool_call"},
        ],
    }
    execution = parse_execution(payload)
    assert execution.native_id == ULID_ID
    assert execution.extra == {"variant": "A", "agentId": "maip-agent:1", "agents": ["a1", "a2"]}
    assert execution.inputs == {"q": 1}
    assert execution.outputs == {"partial": True}
    assert execution.created_at == datetime(2026, 11, 1, 9, 59, tzinfo=UTC)
    assert execution.started_at == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert [(s.native_id, s.status) for s in execution.steps] == [
        ("s-1", StepStatus.COMPLETED),
        ("2", StepStatus.RUNNING),
    ]


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param([], id="list"),
        pytest.param("nope", id="string"),
        pytest.param({"status": "running"}, id="no-id"),
        pytest.param({"id": "", "orchestration_id": None}, id="empty-id"),
    ],
)
def test_unreadable_payload_raises(payload: Any) -> None:
    with pytest.raises(PayloadError):
        parse_execution(payload)


# --- the client over respx ------------------------------------------------------------------


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(assert_all_called=False)


@pytest.fixture
async def adapter(router: respx.Router) -> AsyncIterator[SourceAdapter]:
    client = TruthlocksAdapter.create(
        name="tl",
        base_url=BASE_URL,
        credentials=Credentials(api_key="k", tenant_id="t1"),
        settings=HTTPSettings(),
        transport=httpx.MockTransport(router.async_handler),
    )
    yield client
    await client.aclose()


def test_kind_capabilities_and_registry() -> None:
    assert TruthlocksAdapter.kind is SourceKind.TRUTHLOCKS
    assert TruthlocksAdapter.capabilities == frozenset({Capability.GET})
    assert adapter_class(SourceKind.TRUTHLOCKS) is TruthlocksAdapter


@pytest.mark.parametrize(
    ("credentials", "headers"),
    [
        pytest.param(
            Credentials(api_key="k", tenant_id="t1"),
            {"x-api-key": "k", "x-tenant-id": "t1"},
            id="both",
        ),
        pytest.param(Credentials(api_key="k"), {"x-api-key": "k"}, id="no-tenant"),
    ],
)
def test_auth_headers(credentials: Credentials, headers: dict[str, str]) -> None:
    assert dict(TruthlocksAdapter.auth_headers(credentials)) == headers


async def test_get_sends_key_and_tenant(router: respx.Router, adapter: SourceAdapter) -> None:
    route = router.get(f"{ORCH_URL}3c90c3cc-0d44-4b50-8888-8dd25736052a").mock(
        return_value=httpx.Response(200, json=DOC_VARIANT_B)
    )
    execution = await adapter.get_execution("3c90c3cc-0d44-4b50-8888-8dd25736052a")
    assert execution.status is ExecutionStatus.PENDING
    request = route.calls.last.request
    assert request.headers["X-API-Key"] == "k"
    assert request.headers["X-Tenant-ID"] == "t1"
    assert "authorization" not in request.headers


async def test_maip_orch_id_round_trips(router: respx.Router, adapter: SourceAdapter) -> None:
    route = router.get(url__startswith=ORCH_URL).mock(
        return_value=httpx.Response(200, json=variant_a())
    )
    execution = await adapter.get_execution(ULID_ID)
    assert execution.native_id == ULID_ID
    request = route.calls.last.request
    assert request.url.raw_path == b"/v1/orchestrations/maip-orch%3A01JBZ8Q2X7K3M9N4P5R6S7T8V9"
    assert request.url.path == f"/v1/orchestrations/{ULID_ID}"


@pytest.mark.parametrize(
    "native_id",
    [
        pytest.param("a/b", id="slash"),
        pytest.param("..", id="dotdot"),
        pytest.param(".", id="dot"),
        pytest.param("../../admin", id="traversal"),
        pytest.param("x?status=all", id="query"),
        pytest.param("100%", id="percent"),
        pytest.param("%2F", id="encoded-slash"),
        pytest.param("a#b", id="fragment"),
    ],
)
async def test_hostile_ids_never_change_the_path(
    router: respx.Router, adapter: SourceAdapter, native_id: str
) -> None:
    route = router.get(url__startswith=BASE_URL).mock(
        return_value=httpx.Response(404, json={"code": "NOT_FOUND", "message": "no", "details": {}})
    )
    with pytest.raises(ExecutionNotFound):
        await adapter.get_execution(native_id)
    url = route.calls.last.request.url
    assert url.query == b""
    assert url.fragment == ""
    prefix, _, segment = url.raw_path.decode().rpartition("/")
    assert prefix == "/v1/orchestrations"
    assert segment not in ("", ".", "..")
    assert url.path == f"/v1/orchestrations/{native_id}"


@pytest.mark.parametrize(
    ("status", "body", "error", "code", "upstream_code"),
    [
        pytest.param(
            404, {"code": "NOT_FOUND"}, ExecutionNotFound, "NOT_FOUND", "NOT_FOUND", id="404"
        ),
        pytest.param(
            401,
            {"code": "UNAUTHORIZED"},
            UpstreamAuthFailed,
            "UPSTREAM_AUTH",
            "UNAUTHORIZED",
            id="401",
        ),
        pytest.param(
            403, {"code": "FORBIDDEN"}, UpstreamAuthFailed, "UPSTREAM_AUTH", "FORBIDDEN", id="403"
        ),
        pytest.param(
            403,
            {"code": "POLICY_VIOLATION"},
            UpstreamAuthFailed,
            "UPSTREAM_AUTH",
            "POLICY_VIOLATION",
            id="policy",
        ),
        pytest.param(
            400,
            {"code": "INVALID_ID"},
            UpstreamRejected,
            "BAD_USER_INPUT",
            "INVALID_ID",
            id="invalid-id",
        ),
        pytest.param(
            400,
            {"code": "INVALID_INPUT"},
            UpstreamRejected,
            "BAD_USER_INPUT",
            "INVALID_INPUT",
            id="invalid-input",
        ),
        pytest.param(
            400,
            {"code": "INVALID_REQUEST"},
            UpstreamRejected,
            "BAD_USER_INPUT",
            "INVALID_REQUEST",
            id="invalid-request",
        ),
        pytest.param(409, {"code": "CONFLICT"}, UpstreamConflict, "CONFLICT", "CONFLICT", id="409"),
        pytest.param(
            500,
            {"code": "INTERNAL_ERROR"},
            UpstreamUnavailable,
            "UPSTREAM_UNAVAILABLE",
            "INTERNAL_ERROR",
            id="500",
        ),
        pytest.param(
            500,
            {"code": "DB_ERROR"},
            UpstreamUnavailable,
            "UPSTREAM_UNAVAILABLE",
            "DB_ERROR",
            id="db",
        ),
        pytest.param(
            400, {"code": "NOT_FOUND"}, ExecutionNotFound, "NOT_FOUND", "NOT_FOUND", id="code-wins"
        ),
        pytest.param(
            402,
            {"code": "PLAN_LIMIT", "message": "upgrade"},
            UpstreamRateLimited,
            "UPSTREAM_RATE_LIMITED",
            "PLAN_LIMIT",
            id="402-plan-limit",
        ),
        pytest.param(
            418,
            {"code": "TEAPOT"},
            UpstreamBadResponse,
            "UPSTREAM_BAD_RESPONSE",
            None,
            id="unknown",
        ),
        pytest.param(
            503,
            {"error": {"code": "service_unavailable"}},
            UpstreamUnavailable,
            "UPSTREAM_UNAVAILABLE",
            None,
            id="wrapped-unknown",
        ),
        pytest.param(
            404,
            {"error": {"code": "NOT_FOUND"}},
            ExecutionNotFound,
            "NOT_FOUND",
            "NOT_FOUND",
            id="wrapped",
        ),
    ],
)
async def test_error_bodies(
    router: respx.Router,
    adapter: SourceAdapter,
    status: int,
    body: dict[str, Any],
    error: type[UpstreamError],
    code: str,
    upstream_code: str | None,
) -> None:
    full = {"message": "something", "details": {}, "trace_id": "tr_1", **body}
    router.get(url__startswith=ORCH_URL).mock(return_value=httpx.Response(status, json=full))
    with pytest.raises(error) as caught:
        await adapter.get_execution(ULID_ID)
    assert caught.value.code == code
    assert caught.value.upstream_code == upstream_code
    assert caught.value.http_status == status
    assert caught.value.source == "tl"
    assert caught.value.native_id == ULID_ID
    assert "something" not in str(caught.value)
    assert "tl.test" not in str(caught.value)


async def test_rate_limited_reads_retry_after_from_details(
    router: respx.Router, adapter: SourceAdapter
) -> None:
    body = {
        "code": "RATE_LIMITED",
        "message": "Too many requests",
        "http_status": 429,
        "details": {"limit": 60, "window_seconds": 60, "retry_after_seconds": 12},
    }
    router.get(url__startswith=ORCH_URL).mock(
        return_value=httpx.Response(429, json=body, headers={"Retry-After": "30"})
    )
    with pytest.raises(UpstreamRateLimited) as caught:
        await adapter.get_execution(ULID_ID)
    assert caught.value.code == "UPSTREAM_RATE_LIMITED"
    assert caught.value.upstream_code == "RATE_LIMITED"
    assert caught.value.retry_after == 12.0


async def test_rate_limited_falls_back_to_retry_after_header(
    router: respx.Router, adapter: SourceAdapter
) -> None:
    router.get(url__startswith=ORCH_URL).mock(
        return_value=httpx.Response(
            429, json={"code": "RATE_LIMITED", "details": {}}, headers={"Retry-After": "30"}
        )
    )
    with pytest.raises(UpstreamRateLimited) as caught:
        await adapter.get_execution(ULID_ID)
    assert caught.value.retry_after == 30.0


@pytest.mark.parametrize(
    ("response", "error"),
    [
        pytest.param(
            httpx.Response(200, text="<html>ok</html>"), UpstreamBadResponse, id="200-html"
        ),
        pytest.param(
            httpx.Response(200, json=["not", "an", "object"]), UpstreamBadResponse, id="200-list"
        ),
        pytest.param(
            httpx.Response(200, json={"status": "running"}), UpstreamBadResponse, id="200-no-id"
        ),
        pytest.param(httpx.Response(502, text="Bad Gateway"), UpstreamUnavailable, id="502-text"),
        pytest.param(httpx.Response(404, text="Not Found"), ExecutionNotFound, id="404-text"),
    ],
)
async def test_unreadable_responses(
    router: respx.Router,
    adapter: SourceAdapter,
    response: httpx.Response,
    error: type[UpstreamError],
) -> None:
    router.get(url__startswith=ORCH_URL).mock(return_value=response)
    with pytest.raises(error):
        await adapter.get_execution(ULID_ID)


async def test_timeout(router: respx.Router, adapter: SourceAdapter) -> None:
    router.get(url__startswith=ORCH_URL).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(UpstreamTimeout) as caught:
        await adapter.get_execution(ULID_ID)
    assert caught.value.code == "UPSTREAM_TIMEOUT"


async def test_cannot_list(adapter: SourceAdapter) -> None:
    with pytest.raises(UnsupportedOperation):
        await adapter.list_executions(cursor=None, page_size=10)


async def test_cannot_decide(adapter: SourceAdapter) -> None:
    execution = parse_execution(variant_a(status="running"))
    approval = Approval(key="", status=ApprovalStatus.PENDING)
    with pytest.raises(UnsupportedOperation):
        await adapter.decide(
            execution,
            approval,
            Decision.APPROVE,
            reviewer_id=None,
            notes=None,
            idempotency_key="k",
        )
