"""Run control in the adapters, over respx, fed the vendors' documented payloads."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import respx

from adapters.base import Credentials, RunAction, StartRequest
from adapters.engine import HTTPSettings
from adapters.errors import (
    ExecutionNotFound,
    UnsupportedOperation,
    UpstreamAuthFailed,
    UpstreamConflict,
    UpstreamRejected,
)
from adapters.model import ExecutionStatus
from adapters.nesting import NestingAdapter
from adapters.rotavision import RotavisionAdapter
from adapters.rotavision import parse_execution as parse_rotavision
from adapters.truthlocks import TruthlocksAdapter
from adapters.truthlocks import parse_execution as parse_truthlocks
from adapters.velt import VeltAdapter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from adapters.base import SourceAdapter

BASE = "https://up.test"
KEY = "gw-0123456789abcdef"

# rotavision.txt / notes §1: the run reply (202) and the get example.
RV_RUN_REPLY = {
    "id": "exec_new001",
    "workflow_id": "wf_abc123",
    "status": "running",
    "current_step": "classifier",
    "progress": {"completed": 0, "total": 3},
    "inputs": {"ticket": "I have been waiting for my refund for 2 weeks."},
    "created_at": "2026-02-01T10:30:00Z",
}
RV_DOC_GET = {
    "id": "exec_xyz789",
    "workflow_id": "wf_abc123",
    "workflow_name": "Customer Support Triage",
    "status": "completed",
    "inputs": {"ticket": "I have been waiting for my refund for 2 weeks. Order #12345."},
    "outputs": {"category": "refund"},
    "steps": [],
    "created_at": "2026-02-01T10:30:00Z",
    "completed_at": "2026-02-01T10:32:07Z",
}
# velt.txt / notes §2: dispatch and cancel replies, the get example.
VELT_DISPATCH = {
    "result": {
        "executionId": "exec_1777374504255_xzy43k9q",
        "correlationId": "corr_campaign_42",
        "deduplicated": True,
    }
}
VELT_GET = {
    "result": {
        "executionId": "exec_1777374504255_xzy43k9q",
        "status": "running",
        "startedAt": 1777374504364,
        "completedAt": None,
        "cancelledAt": None,
        "definitionId": "marketing-copy-approval",
        "definitionVersion": 1,
        "correlationId": "corr_campaign_42",
        "idempotencyKey": "campaign-42-dispatch",
        "failureReason": None,
        "steps": [],
    }
}
VELT_CANCEL = {"result": {"cancelled": True, "executionId": "exec_1777374504255_xzy43k9q"}}
# truthlocks.txt / notes §4: the two documented execute replies.
TL_PROSE_REPLY = {
    "id": "maip-orch:01JDEMO0000000000000000000",
    "agent_id": "maip-agent:01JDEMOAGENT00000000000000",
    "workflow_id": None,
    "status": "running",
    "started_at": "2026-11-01T11:58:00Z",
}
TL_OPENAPI_REPLY = {
    "orchestration_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
    "workflow_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
    "agents": ["3c90c3cc-0d44-4b50-8888-8dd25736052a"],
    "parameters": {},
    "status": "pending",
    "steps": [],
    "results": {},
    "receipts": [],
    "created_at": "2023-11-07T05:31:56Z",
}


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(assert_all_called=False)


async def make(cls: type[SourceAdapter], router: respx.Router) -> SourceAdapter:
    return cls.create(
        name="src",
        base_url=BASE,
        credentials=Credentials(api_key="k", auth_token="t", tenant_id="t1"),
        settings=HTTPSettings(),
        transport=httpx.MockTransport(router.async_handler),
    )


@pytest.fixture
async def rv(router: respx.Router) -> AsyncIterator[SourceAdapter]:
    adapter = await make(RotavisionAdapter, router)
    yield adapter
    await adapter.aclose()


@pytest.fixture
async def vt(router: respx.Router) -> AsyncIterator[SourceAdapter]:
    adapter = await make(VeltAdapter, router)
    yield adapter
    await adapter.aclose()


@pytest.fixture
async def tl(router: respx.Router) -> AsyncIterator[SourceAdapter]:
    adapter = await make(TruthlocksAdapter, router)
    yield adapter
    await adapter.aclose()


def sent(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


def test_each_adapter_declares_its_run_control() -> None:
    assert RotavisionAdapter.actions == {RunAction.START, RunAction.CANCEL, RunAction.RERUN}
    assert VeltAdapter.actions == {RunAction.START, RunAction.CANCEL}
    assert TruthlocksAdapter.actions == {RunAction.START, RunAction.RERUN}
    assert NestingAdapter.actions == frozenset()
    assert RotavisionAdapter.start_deduplicates
    assert VeltAdapter.start_deduplicates
    assert not TruthlocksAdapter.start_deduplicates


async def test_rotavision_start_sends_inputs_and_the_key(
    router: respx.Router, rv: SourceAdapter
) -> None:
    route = router.post(f"{BASE}/v1/orchestrate/workflows/wf_abc123/run").respond(
        202, json=RV_RUN_REPLY
    )
    outcome = await rv.start(StartRequest("wf_abc123", {"ticket": "x"}, KEY))
    assert sent(route) == {"inputs": {"ticket": "x"}}
    assert route.calls.last.request.headers["idempotency-key"] == KEY
    assert outcome.native_id == "exec_new001"
    assert outcome.execution is not None
    assert outcome.execution.status is ExecutionStatus.RUNNING


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        pytest.param(
            404,
            {"error": {"code": "workflow_not_found", "type": "not_found_error", "message": "m"}},
            ExecutionNotFound,
            id="404",
        ),
        pytest.param(
            401,
            {"error": {"code": "invalid_api_key", "type": "authentication_error", "message": "m"}},
            UpstreamAuthFailed,
            id="401",
        ),
        pytest.param(
            400,
            {"error": {"code": "invalid_request", "type": "validation_error", "message": "m"}},
            UpstreamRejected,
            id="400",
        ),
    ],
)
async def test_rotavision_start_errors_are_typed(
    router: respx.Router, rv: SourceAdapter, status: int, body: dict[str, Any], error: type
) -> None:
    route = router.post(f"{BASE}/v1/orchestrate/workflows/wf_x/run").respond(status, json=body)
    with pytest.raises(error):
        await rv.start(StartRequest("wf_x", {}, KEY))
    assert route.call_count == 1  # a write is never retried


@pytest.mark.parametrize(
    "reply",
    [httpx.Response(200, json={"id": "exec_1", "status": "cancelled"}), httpx.Response(204)],
    ids=["json", "empty"],
)
async def test_rotavision_cancel_accepts_any_2xx(
    router: respx.Router, rv: SourceAdapter, reply: httpx.Response
) -> None:
    route = router.post(f"{BASE}/v1/orchestrate/executions/exec_1/cancel").mock(return_value=reply)
    await rv.cancel("exec_1", reason=None)
    assert route.call_count == 1


async def test_rotavision_reruns_from_the_workflow_and_inputs_a_run_shows(
    rv: SourceAdapter,
) -> None:
    execution = parse_rotavision(RV_DOC_GET)
    request = rv.rerun_request(execution, KEY)
    assert request == StartRequest("wf_abc123", RV_DOC_GET["inputs"], KEY)


async def test_velt_dispatch_passes_the_key_and_reads_the_run(
    router: respx.Router, vt: SourceAdapter
) -> None:
    dispatch = router.post(f"{BASE}/v2/workflow/executions/dispatch").respond(
        200, json=VELT_DISPATCH
    )
    router.post(f"{BASE}/v2/workflow/executions/get").respond(200, json=VELT_GET)
    outcome = await vt.start(
        StartRequest("marketing-copy-approval", {"doc": 1}, KEY, correlation_id="corr_campaign_42")
    )
    assert sent(dispatch) == {
        "data": {
            "definitionId": "marketing-copy-approval",
            "idempotencyKey": KEY,
            "triggerContext": {"doc": 1},
            "correlationId": "corr_campaign_42",
        }
    }
    assert outcome.deduplicated is True
    assert outcome.execution is not None
    assert outcome.execution.native_id == "exec_1777374504255_xzy43k9q"


async def test_velt_cancel_and_its_errors(router: respx.Router, vt: SourceAdapter) -> None:
    route = router.post(f"{BASE}/v2/workflow/executions/cancel")
    route.respond(200, json=VELT_CANCEL)
    await vt.cancel("exec_1", reason="r" * 600)
    assert sent(route) == {"data": {"executionId": "exec_1", "reason": "r" * 500}}
    route.respond(400, json={"error": {"message": "m", "status": "FAILED_PRECONDITION"}})
    with pytest.raises(UpstreamConflict):
        await vt.cancel("exec_1", reason=None)
    route.respond(404, json={"error": {"message": "m", "status": "NOT_FOUND"}})
    with pytest.raises(ExecutionNotFound):
        await vt.cancel("exec_1", reason=None)


def test_velt_cannot_rerun_it_does_not_show_the_trigger_context() -> None:
    assert RunAction.RERUN not in VeltAdapter.actions


@pytest.mark.parametrize(
    ("request_", "body", "reply", "native_id"),
    [
        pytest.param(
            StartRequest(None, {"q": 1}, KEY, agent_id="maip-agent:01JDEMOAGENT00000000000000"),
            {"agent_id": "maip-agent:01JDEMOAGENT00000000000000", "input": {"q": 1}},
            TL_PROSE_REPLY,
            "maip-orch:01JDEMO0000000000000000000",
            id="prose",
        ),
        pytest.param(
            StartRequest("wf-1", {"q": 1}, KEY, agents=("a1",)),
            {"workflow_id": "wf-1", "agents": ["a1"], "parameters": {"q": 1}},
            TL_OPENAPI_REPLY,
            "3c90c3cc-0d44-4b50-8888-8dd25736052a",
            id="openapi",
        ),
    ],
)
async def test_truthlocks_start_in_either_documented_variant(
    router: respx.Router,
    tl: SourceAdapter,
    request_: StartRequest,
    body: dict[str, Any],
    reply: dict[str, Any],
    native_id: str,
) -> None:
    route = router.post(f"{BASE}/v1/orchestrations/execute").respond(200, json=reply)
    outcome = await tl.start(request_)
    assert sent(route) == body
    assert "idempotency-key" not in route.calls.last.request.headers
    assert outcome.native_id == native_id


async def test_truthlocks_refusals(router: respx.Router, tl: SourceAdapter) -> None:
    with pytest.raises(UpstreamRejected):
        await tl.start(StartRequest("wf-1", {}, KEY))  # neither an agent nor agents
    router.post(f"{BASE}/v1/orchestrations/execute").respond(
        401, json={"code": "UNAUTHORIZED", "message": "m", "details": {}, "trace_id": "t"}
    )
    with pytest.raises(UpstreamAuthFailed):
        await tl.start(StartRequest(None, {}, KEY, agent_id="a"))
    with pytest.raises(UnsupportedOperation):
        await tl.cancel("x", reason=None)


async def test_truthlocks_reruns_only_what_its_get_shows(tl: SourceAdapter) -> None:
    openapi = parse_truthlocks({**TL_OPENAPI_REPLY, "parameters": {"ticket": "T"}})
    request = tl.rerun_request(openapi, KEY)
    assert request == StartRequest(
        "3c90c3cc-0d44-4b50-8888-8dd25736052a",
        {"ticket": "T"},
        KEY,
        agents=("3c90c3cc-0d44-4b50-8888-8dd25736052a",),
    )
    prose = parse_truthlocks({**TL_PROSE_REPLY, "status": "completed"})
    assert tl.rerun_request(prose, KEY) is None


async def test_zaia_has_no_run_control(router: respx.Router) -> None:
    adapter = await make(NestingAdapter, router)
    with pytest.raises(UnsupportedOperation):
        await adapter.start(StartRequest("x", {}, KEY))
    assert router.calls.call_count == 0
    await adapter.aclose()
