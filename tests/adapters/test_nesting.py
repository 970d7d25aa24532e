"""Nesting-style (Zaia) adapter: the pure parsers on documented-shape payloads, the client over respx."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from adapters.base import Capability, Credentials
from adapters.engine import HTTPSettings
from adapters.errors import (
    ExecutionNotFound,
    PayloadError,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.model import ErrorInfo, ExecutionStatus, SourceKind, StepKind, StepStatus
from adapters.nesting import (
    ListOrder,
    NestingAdapter,
    NestingOptions,
    detect_order,
    parse_execution,
    parse_list,
    parse_tree,
)
from adapters.registry import adapter_class

ROOT = "11111111-1111-4111-8111-111111111111"
CHILD_A = "22222222-2222-4222-8222-222222222222"
CHILD_B = "33333333-3333-4333-8333-333333333333"
GRANDCHILD = "44444444-4444-4444-8444-444444444444"
STRANGER = "55555555-5555-4555-8555-555555555555"
WORKSPACE = "99999999-9999-4999-8999-999999999999"


def execution(
    native_id: str = ROOT,
    *,
    parent: str | None = None,
    status: str | None = "completed",
    started: str = "2026-11-01T12:00:00.000Z",
    **overrides: Any,
) -> dict[str, Any]:
    """A member shaped like the docs' schema: every field present, as the docs require."""
    record: dict[str, Any] = {
        "createdAt": "2026-11-01T11:59:59.500Z",
        "id": native_id,
        "updatedAt": "2026-11-01T12:00:30.000Z",
        "creditsUsed": 1.25,
        "detail": {"input": {"message": "hi"}, "output": {"text": "hello"}},
        "endedAt": "2026-11-01T12:00:30.000Z",
        "isAgentic": True,
        "isPurged": False,
        "parentId": parent,
        "responderId": f"responder-{native_id[:4]}",
        "startedAt": started,
        "status": status,
        "workspaceId": WORKSPACE,
    }
    record.update(overrides)
    return record


# --- parse_execution --------------------------------------------------------------------------


def test_documented_fields_map_to_the_unified_model() -> None:
    parsed = parse_execution(execution(parent=STRANGER))
    assert parsed.native_id == ROOT
    assert parsed.status is ExecutionStatus.COMPLETED
    assert parsed.upstream_status == "completed"
    assert parsed.inputs == {"message": "hi"}
    assert parsed.outputs == {"text": "hello"}
    assert parsed.cost is not None
    assert parsed.cost.credits == Decimal("1.25")
    assert parsed.cost.amounts == ()
    assert parsed.created_at == datetime(2026, 11, 1, 11, 59, 59, 500000, tzinfo=UTC)
    assert parsed.started_at == datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    assert parsed.completed_at == datetime(2026, 11, 1, 12, 0, 30, tzinfo=UTC)
    assert parsed.updated_at == datetime(2026, 11, 1, 12, 0, 30, tzinfo=UTC)
    assert parsed.duration_ms == 30000
    assert parsed.parent_native_id == STRANGER
    assert parsed.is_purged is False
    assert parsed.extra == {
        "responderId": "responder-1111",
        "workspaceId": WORKSPACE,
        "isAgentic": True,
    }
    assert parsed.steps == ()
    assert parsed.child_native_ids == ()
    assert parsed.raw["detail"] == {"input": {"message": "hi"}, "output": {"text": "hello"}}


@pytest.mark.parametrize(
    ("word", "status"),
    [
        pytest.param("pending", ExecutionStatus.PENDING, id="pending"),
        pytest.param("queued", ExecutionStatus.PENDING, id="queued"),
        pytest.param("created", ExecutionStatus.PENDING, id="created"),
        pytest.param("waiting", ExecutionStatus.PENDING, id="waiting"),
        pytest.param("scheduled", ExecutionStatus.PENDING, id="scheduled"),
        pytest.param("running", ExecutionStatus.RUNNING, id="running"),
        pytest.param("processing", ExecutionStatus.RUNNING, id="processing"),
        pytest.param("in_progress", ExecutionStatus.RUNNING, id="in-progress-snake"),
        pytest.param("IN-PROGRESS", ExecutionStatus.RUNNING, id="in-progress-shouting"),
        pytest.param("started", ExecutionStatus.RUNNING, id="started"),
        pytest.param("active", ExecutionStatus.RUNNING, id="active"),
        pytest.param("completed", ExecutionStatus.COMPLETED, id="completed"),
        pytest.param("complete", ExecutionStatus.COMPLETED, id="complete"),
        pytest.param("succeeded", ExecutionStatus.COMPLETED, id="succeeded"),
        pytest.param("success", ExecutionStatus.COMPLETED, id="success"),
        pytest.param("finished", ExecutionStatus.COMPLETED, id="finished"),
        pytest.param("Done", ExecutionStatus.COMPLETED, id="done-capitalised"),
        pytest.param("failed", ExecutionStatus.FAILED, id="failed"),
        pytest.param("failure", ExecutionStatus.FAILED, id="failure"),
        pytest.param("error", ExecutionStatus.FAILED, id="error"),
        pytest.param("errored", ExecutionStatus.FAILED, id="errored"),
        pytest.param("cancelled", ExecutionStatus.CANCELLED, id="cancelled"),
        pytest.param("canceled", ExecutionStatus.CANCELLED, id="us-spelling"),
        pytest.param("aborted", ExecutionStatus.CANCELLED, id="aborted"),
        pytest.param("stopped", ExecutionStatus.CANCELLED, id="stopped"),
        pytest.param("timeout", ExecutionStatus.TIMED_OUT, id="timeout"),
        pytest.param("Timed-Out", ExecutionStatus.TIMED_OUT, id="timed-out"),
        pytest.param("expired", ExecutionStatus.TIMED_OUT, id="expired"),
        pytest.param("paused_by_admin", ExecutionStatus.UNKNOWN, id="unknown-word"),
        pytest.param("", ExecutionStatus.UNKNOWN, id="empty"),
        pytest.param(None, ExecutionStatus.UNKNOWN, id="null"),
    ],
)
def test_status_words_map_to_unified_statuses(word: str | None, status: ExecutionStatus) -> None:
    parsed = parse_execution(execution(status=word))
    assert parsed.status is status
    assert parsed.upstream_status == word


@pytest.mark.parametrize(
    ("ended_at", "status"),
    [
        pytest.param(None, ExecutionStatus.UNKNOWN, id="unknown-not-ended"),
        pytest.param("2026-11-01T12:00:30Z", ExecutionStatus.UNKNOWN, id="unknown-ended"),
    ],
)
def test_unknown_word_stays_unknown_whatever_ended_at_says(
    ended_at: str | None, status: ExecutionStatus
) -> None:
    parsed = parse_execution(execution(status="paused_by_admin", endedAt=ended_at))
    assert parsed.status is status
    assert parsed.upstream_status == "paused_by_admin"


def test_known_running_word_with_ended_at_stays_running() -> None:
    parsed = parse_execution(execution(status="running"))
    assert parsed.status is ExecutionStatus.RUNNING
    assert parsed.completed_at is not None


@pytest.mark.parametrize(
    ("detail", "inputs", "outputs", "error"),
    [
        pytest.param(
            {"input": {"q": 1}, "output": {"a": 2}}, {"q": 1}, {"a": 2}, None, id="input-output"
        ),
        pytest.param({"input": {"q": 1}}, {"q": 1}, None, None, id="input-only"),
        pytest.param({"input": {"q": 1}, "result": "ok"}, {"q": 1}, "ok", None, id="result"),
        pytest.param(
            {"messages": [{"role": "user", "content": "hi"}]}, None, None, None, id="no-input"
        ),
        pytest.param(
            {"input": {}, "error": {"code": "tool_error", "message": "boom"}},
            {},
            None,
            ErrorInfo(code="tool_error", message="boom"),
            id="error-object",
        ),
        pytest.param(
            {"error": "boom"}, None, None, ErrorInfo(code=None, message="boom"), id="error-text"
        ),
        pytest.param({}, None, None, None, id="empty"),
        pytest.param("not an object", None, None, None, id="wrong-type"),
    ],
)
def test_detail_variants_surface_inputs_and_outputs(
    detail: Any, inputs: Any, outputs: Any, error: ErrorInfo | None
) -> None:
    parsed = parse_execution(execution(detail=detail))
    assert parsed.inputs == inputs
    assert parsed.outputs == outputs
    assert parsed.error == error
    assert parsed.raw["detail"] == detail


def test_purged_execution_keeps_its_facts_without_detail() -> None:
    parsed = parse_execution(execution(isPurged=True, detail={}))
    assert parsed.is_purged is True
    assert parsed.inputs is None
    assert parsed.outputs is None
    assert parsed.status is ExecutionStatus.COMPLETED


@pytest.mark.parametrize(
    ("value", "credits"),
    [
        pytest.param(0, Decimal(0), id="zero"),
        pytest.param(3, Decimal(3), id="int"),
        pytest.param(0.012, Decimal("0.012"), id="float-exact"),
        pytest.param("2.5", Decimal("2.5"), id="numeric-text"),
        pytest.param(-1, None, id="negative"),
        pytest.param("lots", None, id="not-a-number"),
        pytest.param(None, None, id="null"),
    ],
)
def test_credits_used_becomes_credits(value: Any, credits: Decimal | None) -> None:
    parsed = parse_execution(execution(creditsUsed=value))
    if credits is None:
        assert parsed.cost is None
    else:
        assert parsed.cost is not None
        assert parsed.cost.credits == credits


def test_missing_optional_fields_are_tolerated() -> None:
    parsed = parse_execution({"id": ROOT, "status": "running", "endedAt": None})
    assert parsed.status is ExecutionStatus.RUNNING
    assert parsed.completed_at is None
    assert parsed.duration_ms is None
    assert parsed.started_at is None
    assert parsed.cost is None
    assert parsed.parent_native_id is None
    assert parsed.is_purged is False
    assert parsed.extra == {}


def test_not_yet_ended_execution_has_no_completion() -> None:
    parsed = parse_execution(execution(status="running", endedAt=None))
    assert parsed.completed_at is None
    assert parsed.duration_ms is None
    assert parsed.started_at is not None


def test_extra_fields_and_wrong_types_are_ignored() -> None:
    payload = execution(
        brandNewField={"nested": [1]},
        isPurged="yes",
        parentId=7,
        startedAt="yesterday",
        workflow={"id": "w"},
    )
    parsed = parse_execution(payload)
    assert parsed.is_purged is False
    assert parsed.parent_native_id == "7"
    assert parsed.started_at is None
    assert parsed.duration_ms is None
    assert "brandNewField" not in parsed.extra
    assert parsed.raw["brandNewField"] == {"nested": [1]}


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(None, id="null"),
        pytest.param([], id="array"),
        pytest.param({"status": "completed"}, id="no-id"),
        pytest.param({"id": ""}, id="empty-id"),
    ],
)
def test_payload_without_an_execution_is_refused(payload: Any) -> None:
    with pytest.raises(PayloadError):
        parse_execution(payload)


# --- parse_tree -------------------------------------------------------------------------------


def three_levels() -> list[dict[str, Any]]:
    """Root → two children → one grandchild, listed out of order on purpose."""
    return [
        execution(GRANDCHILD, parent=CHILD_A, started="2026-11-01T12:00:03Z", isAgentic=False),
        execution(CHILD_B, parent=ROOT, started="2026-11-01T12:00:02Z", status="failed"),
        execution(ROOT),
        execution(CHILD_A, parent=ROOT, started="2026-11-01T12:00:01Z", isAgentic=False),
    ]


def nested_three_levels() -> dict[str, Any]:
    members = {m["id"]: m for m in three_levels()}
    for member in members.values():
        member.pop("parentId")  # nesting alone says who the parent is
    child_a = {**members[CHILD_A], "children": [members[GRANDCHILD]]}
    return {**members[ROOT], "children": [members[CHILD_B], child_a]}


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(three_levels(), id="bare-array"),
        pytest.param({"items": three_levels()}, id="items"),
        pytest.param({"data": three_levels(), "total": 4}, id="data"),
        pytest.param({"executions": three_levels()}, id="executions"),
        pytest.param({"children": three_levels()}, id="children-key"),
        pytest.param({"results": three_levels()}, id="results"),
        pytest.param({"data": {"items": three_levels()}}, id="data-envelope"),
        pytest.param(nested_three_levels(), id="single-nested"),
        pytest.param([nested_three_levels()], id="array-of-nested"),
    ],
)
def test_tree_is_rebuilt_from_every_reply_shape(payload: Any) -> None:
    tree = parse_tree(copy.deepcopy(payload), ROOT)
    assert [e.native_id for e in tree] == [ROOT, CHILD_A, GRANDCHILD, CHILD_B]
    by_id = {e.native_id: e for e in tree}
    assert by_id[ROOT].child_native_ids == (CHILD_A, CHILD_B)
    assert by_id[CHILD_A].child_native_ids == (GRANDCHILD,)
    assert by_id[GRANDCHILD].child_native_ids == ()
    assert by_id[CHILD_B].child_native_ids == ()
    assert by_id[GRANDCHILD].parent_native_id == CHILD_A
    assert by_id[CHILD_A].parent_native_id == ROOT
    assert "children" not in by_id[ROOT].raw


def test_children_become_ordered_sub_execution_steps() -> None:
    root, child_a, grandchild, child_b = parse_tree(three_levels(), ROOT)
    assert [s.native_id for s in root.steps] == [CHILD_A, CHILD_B]
    assert [s.index for s in root.steps] == [0, 1]
    first, second = root.steps
    assert first.kind is second.kind is StepKind.SUB_EXECUTION
    assert first.child_native_id == CHILD_A
    assert first.name == "responder-2222"
    assert first.status is StepStatus.COMPLETED
    assert first.upstream_kind is None
    assert first.started_at == child_a.started_at
    assert first.completed_at == child_a.completed_at
    assert first.duration_ms == child_a.duration_ms
    assert first.input == {"message": "hi"}
    assert first.output == {"text": "hello"}
    assert second.status is StepStatus.FAILED
    assert second.upstream_status == "failed"
    assert second.upstream_kind == "agentic"
    assert [s.child_native_id for s in child_a.steps] == [GRANDCHILD]
    assert grandchild.steps == ()
    assert child_b.steps == ()


def test_siblings_with_equal_start_are_ordered_by_id() -> None:
    members = [
        execution(ROOT),
        execution(CHILD_B, parent=ROOT, started="2026-11-01T12:00:01Z"),
        execution(CHILD_A, parent=ROOT, started="2026-11-01T12:00:01Z"),
    ]
    (root, *_) = parse_tree(members, ROOT)
    assert root.child_native_ids == (CHILD_A, CHILD_B)


def test_unknown_child_status_is_an_unknown_step() -> None:
    members = [execution(ROOT), execution(CHILD_A, parent=ROOT, status="paused_by_admin")]
    (step,) = parse_tree(members, ROOT)[0].steps
    assert step.status is StepStatus.UNKNOWN
    assert step.upstream_status == "paused_by_admin"


def test_members_outside_the_root_subtree_are_dropped() -> None:
    members = [
        *three_levels(),
        execution(STRANGER),  # a second root
        execution("66666666-6666-4666-8666-666666666666", parent=STRANGER),
        {"status": "completed", "parentId": ROOT},  # no id: cannot be placed
        "not an object",
    ]
    tree = parse_tree(members, ROOT)
    assert {e.native_id for e in tree} == {ROOT, CHILD_A, CHILD_B, GRANDCHILD}


def test_tree_under_a_non_root_member_starts_there() -> None:
    tree = parse_tree(three_levels(), CHILD_A)
    assert [e.native_id for e in tree] == [CHILD_A, GRANDCHILD]
    assert tree[0].parent_native_id == ROOT


def test_parent_cycles_do_not_loop() -> None:
    members = [execution(ROOT, parent=CHILD_A), execution(CHILD_A, parent=ROOT)]
    tree = parse_tree(members, ROOT)
    assert [e.native_id for e in tree] == [ROOT, CHILD_A]
    assert tree[1].child_native_ids == ()


def test_root_id_matches_regardless_of_case() -> None:
    tree = parse_tree(three_levels(), ROOT.upper())
    assert tree[0].native_id == ROOT


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param([execution(CHILD_A, parent=ROOT)], id="root-absent"),
        pytest.param([], id="empty-array"),
        pytest.param({"unexpected": True}, id="no-list"),
        pytest.param(None, id="null"),
        pytest.param("text", id="text"),
    ],
)
def test_reply_without_the_root_is_refused(payload: Any) -> None:
    with pytest.raises(PayloadError):
        parse_tree(payload, ROOT)


# --- parse_list -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "total"),
    [
        pytest.param([execution(ROOT), execution(CHILD_A, parent=ROOT)], None, id="bare-array"),
        pytest.param({"items": [execution(ROOT), execution(CHILD_A)], "total": 9}, 9, id="items"),
        pytest.param(
            {"data": [execution(ROOT), execution(CHILD_A)], "totalCount": 3}, 3, id="data"
        ),
    ],
)
def test_list_replies_are_read_in_every_shape(payload: Any, total: int | None) -> None:
    items, found_total = parse_list(payload)
    assert [e.native_id for e in items] == [ROOT, CHILD_A]
    assert found_total == total


# --- client, over respx -----------------------------------------------------------------------

BASE = "https://zaia.test"
KEY = "zaia_secret_key"


def make_adapter(router: respx.Router | None = None, **kwargs: Any) -> NestingAdapter:
    transport = kwargs.pop("transport", None) or httpx.MockTransport(
        (router or respx.Router()).async_handler
    )
    adapter = NestingAdapter.create(
        name="zaia",
        base_url=BASE,
        credentials=Credentials(api_key=KEY),
        settings=HTTPSettings(timeout_s=1.0),
        transport=transport,
        options=kwargs.pop("options", None),
    )
    assert isinstance(adapter, NestingAdapter)
    return adapter


def test_adapter_is_registered_with_its_capabilities() -> None:
    assert adapter_class(SourceKind.NESTING) is NestingAdapter
    assert NestingAdapter.capabilities == {Capability.GET, Capability.LIST, Capability.CHILDREN}


async def test_get_sends_the_raw_key_and_parses() -> None:
    router = respx.Router(base_url=BASE)
    route = router.get(f"/api/v1/executions/{ROOT}").respond(200, json=execution(ROOT))
    adapter = make_adapter(router)
    parsed = await adapter.get_execution(ROOT)
    await adapter.aclose()
    assert parsed.native_id == ROOT
    assert parsed.steps == ()
    assert route.call_count == 1
    assert route.calls.last.request.headers["authorization"] == KEY


async def test_get_reads_a_data_envelope() -> None:
    router = respx.Router(base_url=BASE)
    router.get(f"/api/v1/executions/{ROOT}").respond(200, json={"data": execution(ROOT)})
    adapter = make_adapter(router)
    parsed = await adapter.get_execution(ROOT)
    await adapter.aclose()
    assert parsed.native_id == ROOT


async def test_get_tree_costs_exactly_one_call() -> None:
    router = respx.Router(base_url=BASE)
    nestings = router.get("/api/v1/executions/nestings", params={"executionId": ROOT}).respond(
        200, json=three_levels()
    )
    single = router.get(path__startswith="/api/v1/executions/").respond(500)
    adapter = make_adapter(router)
    tree = await adapter.get_tree(ROOT)
    await adapter.aclose()
    assert [e.native_id for e in tree] == [ROOT, CHILD_A, GRANDCHILD, CHILD_B]
    assert nestings.call_count == 1
    assert single.call_count == 0
    assert nestings.calls.last.request.headers["authorization"] == KEY


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param([], id="empty-array"),
        pytest.param({"items": []}, id="empty-items"),
        pytest.param(None, id="null"),
    ],
)
async def test_get_tree_of_an_empty_reply_is_not_found(payload: Any) -> None:
    router = respx.Router(base_url=BASE)
    router.get("/api/v1/executions/nestings").respond(200, content=json.dumps(payload))
    adapter = make_adapter(router)
    with pytest.raises(ExecutionNotFound) as caught:
        await adapter.get_tree(ROOT)
    await adapter.aclose()
    assert caught.value.native_id == ROOT


async def test_get_tree_without_the_root_is_a_bad_response() -> None:
    router = respx.Router(base_url=BASE)
    router.get("/api/v1/executions/nestings").respond(200, json=[execution(CHILD_A, parent=ROOT)])
    adapter = make_adapter(router)
    with pytest.raises(UpstreamBadResponse):
        await adapter.get_tree(ROOT)
    await adapter.aclose()


def zaia_error(code: str, name: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": "m",
        "name": name,
        "cta": {"type": "support-contact", "url": "https://zaia.app/support"},
        "feedback": {"enUs": "m", "esEs": "m", "ptBr": "m"},
    }


@pytest.mark.parametrize(
    ("response", "error", "upstream_code"),
    [
        pytest.param(
            httpx.Response(401, json=zaia_error("unauthorized", "UnauthorizedError")),
            UpstreamAuthFailed,
            "unauthorized",
            id="401",
        ),
        pytest.param(
            httpx.Response(404, json=zaia_error("not_found", "NotFoundError")),
            ExecutionNotFound,
            "not_found",
            id="404",
        ),
        pytest.param(
            httpx.Response(400, json=zaia_error("execution_not_found", "BadRequestError")),
            ExecutionNotFound,
            "execution_not_found",
            id="not-found-code-wins-over-400",
        ),
        pytest.param(
            httpx.Response(403, json=zaia_error("", "UnauthorizedError")),
            UpstreamAuthFailed,
            "UnauthorizedError",
            id="name-only",
        ),
        pytest.param(
            httpx.Response(400, json=zaia_error("invalid_api_key", "Error")),
            UpstreamAuthFailed,
            "invalid_api_key",
            id="api-key-is-auth",
        ),
        pytest.param(
            httpx.Response(429, json=zaia_error("rate_limit_exceeded", "TooManyRequestsError")),
            UpstreamRateLimited,
            "rate_limit_exceeded",
            id="429",
        ),
        pytest.param(
            httpx.Response(400, json=zaia_error("validation_failed", "ValidationError")),
            UpstreamRejected,
            "validation_failed",
            id="400",
        ),
        pytest.param(
            httpx.Response(500, json=zaia_error("internal", "InternalServerError")),
            UpstreamUnavailable,
            None,
            id="500-unknown-code",
        ),
        pytest.param(httpx.Response(502, text="<html>"), UpstreamUnavailable, None, id="502-html"),
        pytest.param(httpx.Response(404, text="Not Found"), ExecutionNotFound, None, id="404-text"),
        pytest.param(
            httpx.Response(429, headers={"retry-after": "7"}, json={}),
            UpstreamRateLimited,
            None,
            id="429-empty",
        ),
        pytest.param(httpx.Response(200, text="<html>"), UpstreamBadResponse, None, id="not-json"),
        pytest.param(httpx.Response(200, json=[1]), UpstreamBadResponse, None, id="wrong-shape"),
    ],
)
@pytest.mark.parametrize("call", ["get", "tree"])
async def test_upstream_failures_become_typed_errors(
    response: httpx.Response, error: type[UpstreamError], upstream_code: str | None, call: str
) -> None:
    router = respx.Router(base_url=BASE)
    router.get(path__startswith="/api/v1/executions/").mock(return_value=response)
    adapter = make_adapter(router)
    with pytest.raises(error) as caught:
        await (adapter.get_execution(ROOT) if call == "get" else adapter.get_tree(ROOT))
    await adapter.aclose()
    assert caught.value.source == "zaia"
    assert caught.value.native_id == ROOT
    assert caught.value.upstream_code == upstream_code
    assert KEY not in str(caught.value)
    if caught.value.retry_after is not None:
        assert caught.value.retry_after == 7.0


@pytest.mark.parametrize(
    ("side_effect", "error"),
    [
        pytest.param(httpx.ReadTimeout("slow"), UpstreamTimeout, id="timeout"),
        pytest.param(httpx.ConnectError("refused"), UpstreamUnavailable, id="refused"),
    ],
)
async def test_transport_failures_become_typed_errors(
    side_effect: Exception, error: type[UpstreamError]
) -> None:
    router = respx.Router(base_url=BASE)
    router.get(path__startswith="/api/v1/executions").mock(side_effect=side_effect)
    adapter = make_adapter(router)
    with pytest.raises(error):
        await adapter.get_tree(ROOT)
    with pytest.raises(error):
        await adapter.list_executions(cursor=None, page_size=10)
    await adapter.aclose()


@pytest.mark.parametrize(
    ("native_id", "raw_path"),
    [
        pytest.param("a/b", b"/api/v1/executions/a%2Fb", id="slash"),
        pytest.param("..", b"/api/v1/executions/%2E%2E", id="dot-dot"),
        pytest.param(".", b"/api/v1/executions/%2E", id="dot"),
        pytest.param("x?admin=1", b"/api/v1/executions/x%3Fadmin%3D1", id="query"),
        pytest.param("50%", b"/api/v1/executions/50%25", id="percent"),
        pytest.param("../../v2/x", b"/api/v1/executions/..%2F..%2Fv2%2Fx", id="traversal"),
        pytest.param("a#b", b"/api/v1/executions/a%23b", id="fragment"),
    ],
)
async def test_no_id_changes_the_upstream_path(native_id: str, raw_path: bytes) -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, json=zaia_error("not_found", "NotFoundError"))

    adapter = make_adapter(transport=httpx.MockTransport(record))
    with pytest.raises(ExecutionNotFound):
        await adapter.get_execution(native_id)
    with pytest.raises(ExecutionNotFound):
        await adapter.get_tree(native_id)
    await adapter.aclose()
    single, tree = seen
    assert single.url.raw_path == raw_path
    assert single.url.query == b""
    assert tree.url.path == "/api/v1/executions/nestings"
    assert tree.url.params.get_list("executionId") == [native_id]
    assert list(tree.url.params.keys()) == ["executionId"]


# --- list ---------------------------------------------------------------------------------


def page_of(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [execution(f"00000000-0000-4000-8000-{n:012d}") for n in range(start, start + count)]


async def test_list_pages_by_number_until_a_short_page() -> None:
    router = respx.Router(base_url=BASE)
    route = router.get("/api/v1/executions")
    route.side_effect = [
        httpx.Response(200, json=page_of(3)),
        httpx.Response(200, json=page_of(1, start=3)),
    ]
    adapter = make_adapter(router, options=NestingOptions(list_order="desc"))
    first = await adapter.list_executions(cursor=None, page_size=3)
    second = await adapter.list_executions(cursor=first.next_cursor, page_size=3)
    await adapter.aclose()
    assert first.next_cursor == "2"
    assert first.complete is False
    assert len(first.items) == 3
    assert second.next_cursor is None
    assert [dict(c.request.url.params) for c in route.calls] == [
        {"pageNumber": "1", "pageSize": "3"},
        {"pageNumber": "2", "pageSize": "3"},
    ]
    assert route.calls.last.request.headers["authorization"] == KEY


@pytest.mark.parametrize(
    ("asked", "sent"),
    [
        pytest.param(0, "1", id="zero"),
        pytest.param(-5, "1", id="negative"),
        pytest.param(100, "100", id="max"),
        pytest.param(500, "100", id="over-max"),
    ],
)
async def test_list_clamps_the_page_size(asked: int, sent: str) -> None:
    router = respx.Router(base_url=BASE)
    route = router.get("/api/v1/executions").respond(200, json=[])
    adapter = make_adapter(router)
    page = await adapter.list_executions(cursor=None, page_size=asked)
    await adapter.aclose()
    assert route.calls.last.request.url.params["pageSize"] == sent
    assert page.items == ()
    assert page.next_cursor is None


async def test_list_does_not_filter_by_status_upstream() -> None:
    router = respx.Router(base_url=BASE)
    route = router.get("/api/v1/executions").respond(200, json=page_of(2))
    adapter = make_adapter(router)
    page = await adapter.list_executions(cursor=None, page_size=10, status=ExecutionStatus.RUNNING)
    await adapter.aclose()
    assert set(route.calls.last.request.url.params) == {"pageNumber", "pageSize"}
    assert len(page.items) == 2


async def test_list_reads_a_total_and_stops_at_it() -> None:
    router = respx.Router(base_url=BASE)
    router.get("/api/v1/executions").respond(200, json={"items": page_of(2), "total": 4})
    adapter = make_adapter(router)
    first = await adapter.list_executions(cursor="1", page_size=2)
    last = await adapter.list_executions(cursor="2", page_size=2)
    await adapter.aclose()
    assert (first.total, first.next_cursor) == (4, "2")
    assert (last.total, last.next_cursor) == (4, None)


@pytest.mark.parametrize(
    "cursor",
    [pytest.param("0", id="zero"), pytest.param("abc", id="text"), pytest.param("-1", id="neg")],
)
async def test_list_refuses_a_cursor_that_is_no_page_number(cursor: str) -> None:
    router = respx.Router(base_url=BASE)
    route = router.get("/api/v1/executions").respond(200, json=[])
    adapter = make_adapter(router)
    with pytest.raises(UpstreamRejected):
        await adapter.list_executions(cursor=cursor, page_size=10)
    await adapter.aclose()
    assert route.call_count == 0


async def test_list_with_a_bad_body_is_a_bad_response() -> None:
    router = respx.Router(base_url=BASE)
    router.get("/api/v1/executions").respond(200, json={"unexpected": 1})
    adapter = make_adapter(router)
    with pytest.raises(UpstreamBadResponse):
        await adapter.list_executions(cursor=None, page_size=10)
    await adapter.aclose()


# --- list order (not documented): oldest-first upstreams are walked back ---------------------


def timed(n: int) -> dict[str, Any]:
    """Execution number ``n``, started ``n`` minutes after the first."""
    return execution(f"00000000-0000-4000-8000-{n:012d}", started=f"2026-11-01T12:{n:02d}:00.000Z")


def paged(records: list[dict[str, Any]]) -> Any:
    """A respx side effect serving ``records`` by pageNumber/pageSize, as a bare array."""

    def serve(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["pageNumber"])
        size = int(request.url.params["pageSize"])
        return httpx.Response(200, json=records[(number - 1) * size : number * size])

    return serve


@pytest.mark.parametrize("count", [0, 1, 3, 4, 9, 10, 11, 30, 31])
async def test_find_last_page_probes_to_the_last_non_empty_page(count: int) -> None:
    router = respx.Router(base_url=BASE)
    route = router.get("/api/v1/executions")
    route.side_effect = paged([timed(n) for n in range(count)])
    adapter = make_adapter(router)
    last = await adapter.find_last_page(3)
    await adapter.aclose()
    expected = max(1, -(-count // 3))
    assert (last.page_number, last.page_size, last.is_last) == (expected, 3, True)
    assert last.next_cursor is None
    assert [e.native_id for e in last.items] == [
        timed(n)["id"] for n in range((expected - 1) * 3, count)
    ]
    assert route.call_count <= 2 + 2 * max(1, count // 3).bit_length()


def test_detect_order_reads_the_trend_of_start_times() -> None:
    one, two, three, four = (parse_execution(timed(n)) for n in (1, 2, 3, 4))
    assert detect_order([one, two, three]) == "asc"
    assert detect_order([three, two, one]) == "desc"
    assert detect_order([one]) is None
    assert detect_order([one, parse_execution(timed(1))]) is None  # one distinct time
    # Not monotonic, but a trend: two pairs one way, one the other.
    assert detect_order([two, one, three]) == "asc"
    assert detect_order([two, three, one]) == "desc"
    assert detect_order([two, four, one, three]) is None  # three pairs each way


def grouped(*, roots_oldest_first: bool) -> list[dict[str, Any]]:
    """A realistic list: three roots, each followed by children that started after it, some
    after the next root had started (a long run that spawns sub-executions as it goes)."""
    trees = [
        [("r1", None, 0), ("r1a", "r1", 1), ("r1b", "r1", 9), ("r1c", "r1", 14)],
        [("r2", None, 5), ("r2a", "r2", 6), ("r2b", "r2", 16)],
        [("r3", None, 10), ("r3a", "r3", 11), ("r3b", "r3", 12), ("r3c", "r3", 18)],
    ]
    if not roots_oldest_first:
        trees.reverse()
    return [
        execution(
            _uuid_of(name),
            parent=_uuid_of(parent) if parent else None,
            started=f"2026-11-01T12:{minute:02d}:00.000Z",
        )
        for tree in trees
        for name, parent, minute in tree
    ]


def _uuid_of(name: str) -> str:
    return f"00000000-0000-4000-8000-{name.encode().hex():0>12}"


def test_detect_order_reads_a_realistic_list() -> None:
    """Roots in order, each followed by its later-started children: the roots' trend decides."""
    oldest_first = [parse_execution(r) for r in grouped(roots_oldest_first=True)]
    newest_first = [parse_execution(r) for r in grouped(roots_oldest_first=False)]
    assert detect_order(oldest_first) == "asc"
    assert detect_order(newest_first) == "desc"
    # Without roots on the page, the trend of all of it.
    assert detect_order([e for e in oldest_first if e.parent_native_id]) == "asc"


async def test_a_realistic_oldest_first_list_is_served_newest_first_by_default() -> None:
    """No ``list_order`` given: the order is told from page 1, the walk starts at the last page,
    and each page comes newest first. Only a page boundary splitting a tree leaves an item
    before a newer one."""
    records = grouped(roots_oldest_first=True)
    router = respx.Router(base_url=BASE)
    router.get("/api/v1/executions").side_effect = paged(records)
    adapter = make_adapter(router)
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page = await adapter.list_executions(cursor=cursor, page_size=4)
        pages.append([e.started_at.isoformat() for e in page.items if e.started_at])
        cursor = page.next_cursor
        if cursor is None:
            break
    await adapter.aclose()
    assert len(pages) == 3
    assert all(times == sorted(times, reverse=True) for times in pages)
    assert pages[0][0] == "2026-11-01T12:18:00+00:00"  # the newest, first
    walked = [t for times in pages for t in times]
    assert sorted(walked) == sorted(r["startedAt"].replace(".000Z", "+00:00") for r in records)


async def test_a_realistic_newest_first_list_is_served_page_by_page_newest_first() -> None:
    records = grouped(roots_oldest_first=False)
    router = respx.Router(base_url=BASE)
    route = router.get("/api/v1/executions")
    route.side_effect = paged(records)
    adapter = make_adapter(router, options=NestingOptions(list_order="auto"))
    page = await adapter.list_executions(cursor=None, page_size=20)
    await adapter.aclose()
    started = [e.started_at for e in page.items]
    assert started == sorted(started, reverse=True)  # type: ignore[type-var]
    assert (page.page_number, page.next_cursor, route.call_count) == (1, None, 1)


@pytest.mark.parametrize("order", ["asc", "auto"])
async def test_an_oldest_first_list_is_served_newest_first(order: ListOrder) -> None:
    records = [timed(n) for n in range(8)]
    router = respx.Router(base_url=BASE)
    router.get("/api/v1/executions").side_effect = paged(records)
    adapter = make_adapter(router, options=NestingOptions(list_order=order))
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await adapter.list_executions(cursor=cursor, page_size=3)
        seen += [e.native_id for e in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    await adapter.aclose()
    assert seen == [r["id"] for r in reversed(records)]


async def test_a_newest_first_list_is_detected_and_served_as_is() -> None:
    records = [timed(n) for n in reversed(range(5))]
    router = respx.Router(base_url=BASE)
    route = router.get("/api/v1/executions")
    route.side_effect = paged(records)
    adapter = make_adapter(router, options=NestingOptions(list_order="auto"))
    page = await adapter.list_executions(cursor=None, page_size=3)
    await adapter.aclose()
    assert [e.native_id for e in page.items] == [r["id"] for r in records[:3]]
    assert (page.page_number, page.is_last, page.next_cursor) == (1, False, "2")
    assert route.call_count == 1


def test_an_unknown_list_order_is_refused() -> None:
    with pytest.raises(ValueError, match="list_order"):
        make_adapter(options=NestingOptions(list_order="random"))  # type: ignore[arg-type]
