"""Run control end to end: start, cancel and re-run over real HTTP against the sandbox."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

import pytest

from sandbox import rotavision, truthlocks, velt
from sandbox.progress import Progress
from tests.e2e.test_approvals import decide, pending_approval_id
from tests.serving import gateway_client, graphql

if TYPE_CHECKING:
    import httpx

    from sandbox import Sandbox

pytestmark = pytest.mark.e2e

RV_RUN = "POST /v1/orchestrate/workflows/{workflow_id}/run"
RV_CANCEL = "POST /v1/orchestrate/executions/{execution_id}/cancel"
VELT_DISPATCH = "POST /v2/workflow/executions/dispatch"
VELT_CANCEL = "POST /v2/workflow/executions/cancel"
TL_EXECUTE = "POST /v1/orchestrations/execute"

RESULT = """
    __typename
    ... on RunControlSuccess { action executionId replayed execution { id status } }
    ... on RunControlError { code message }
    ... on RunAlreadyFinished { finalStatus }
    ... on RunActionUnsupported { source action }
    ... on RunInputInvalid { field }
"""
START = (
    f"mutation ($input: StartExecutionInput!) {{ startExecution(input: $input) {{ {RESULT} }} }}"
)
CANCEL = (
    f"mutation ($input: CancelExecutionInput!) {{ cancelExecution(input: $input) {{ {RESULT} }} }}"
)
RERUN = (
    f"mutation ($input: RerunExecutionInput!) {{ rerunExecution(input: $input) {{ {RESULT} }} }}"
)


async def run(client: httpx.AsyncClient, query: str, **input: Any) -> dict[str, Any]:
    body = await graphql(client, query, {"input": input})
    assert "errors" not in body, body
    (result,) = body["data"].values()
    assert isinstance(result, dict)
    return result


def posts(sandbox: Sandbox, template: str) -> int:
    return sandbox.stats.calls[template]


async def test_sources_say_which_actions_they_support(gateway: httpx.AsyncClient) -> None:
    body = await graphql(gateway, "{ sources { name actions } }")
    actions = {s["name"]: s["actions"] for s in body["data"]["sources"]}
    assert actions == {
        "rv": ["CANCEL", "RERUN", "START"],
        "velt": ["CANCEL", "START"],
        "zaia": [],
        "tl": ["RERUN", "START"],
    }


async def test_rotavision_start_then_cancel_then_cancel_again(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    started = await run(
        gateway,
        START,
        source="rv",
        workflowId="wf_support_triage",
        inputs={"ticket": "T-1"},
        idempotencyKey="k-1",
    )
    assert started["__typename"] == "RunControlSuccess", started
    assert started["execution"]["status"] == "RUNNING"
    assert started["replayed"] is False
    native_id = started["executionId"].removeprefix("rv:")
    assert sandbox.rotavision.executions[native_id]["inputs"] == {"ticket": "T-1"}

    cancelled = await run(gateway, CANCEL, executionId=started["executionId"])
    assert cancelled["__typename"] == "RunControlSuccess"
    assert cancelled["execution"]["status"] == "CANCELLED"
    again = await run(gateway, CANCEL, executionId=started["executionId"])
    assert again["__typename"] == "RunAlreadyFinished"
    assert again["finalStatus"] == "CANCELLED"
    assert again["code"] == "CONFLICT"
    assert posts(sandbox, RV_RUN) == 1
    assert posts(sandbox, RV_CANCEL) == 1


async def test_the_same_key_answers_the_first_run_and_other_input_is_a_conflict(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    args = {"source": "rv", "workflowId": "wf_invoice_review", "idempotencyKey": "same"}
    first = await run(gateway, START, inputs={"n": 1}, **args)
    second = await run(gateway, START, inputs={"n": 1}, **args)
    assert second["__typename"] == "RunControlSuccess"
    assert second["executionId"] == first["executionId"]
    assert second["replayed"] is True
    other = await run(gateway, START, inputs={"n": 2}, **args)
    assert other["__typename"] == "IdempotencyKeyConflict"
    assert other["code"] == "CONFLICT"
    assert posts(sandbox, RV_RUN) == 1


async def test_fifty_concurrent_identical_starts_make_one_upstream_start(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.faults.update({"latency_ms": 50, "only": "run"})
    results = await asyncio.gather(
        *(
            run(
                gateway,
                START,
                source="rv",
                workflowId="wf_lead_scoring",
                inputs={},
                idempotencyKey="burst",
            )
            for _ in range(50)
        )
    )
    assert {r["__typename"] for r in results} == {"RunControlSuccess"}
    assert len({r["executionId"] for r in results}) == 1
    assert sum(not r["replayed"] for r in results) == 1
    assert posts(sandbox, RV_RUN) == 1


async def test_velt_dispatch_passes_the_key_and_cancel_is_a_noop_on_a_finished_run(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    started = await run(
        gateway,
        START,
        source="velt",
        workflowId="marketing-copy-approval",
        inputs={"doc": "d-1"},
        idempotencyKey="v-1",
        correlationId="corr-1",
    )
    assert started["__typename"] == "RunControlSuccess", started
    assert started["execution"]["status"] == "WAITING_FOR_APPROVAL"
    native_id = started["executionId"].removeprefix("velt:")
    view = sandbox.velt.executions[native_id]
    assert view["correlationId"] == "corr-1"
    assert view["idempotencyKey"].startswith("gw-")  # the gateway's key, not the client's
    assert sandbox.velt.trigger_contexts[native_id] == {"doc": "d-1"}

    cancelled = await run(gateway, CANCEL, executionId=started["executionId"], reason="typo")
    assert cancelled["execution"]["status"] == "CANCELLED"
    finished = await run(gateway, CANCEL, executionId=f"velt:{velt.DOC_EXAMPLE_ID}")
    assert finished["__typename"] == "RunAlreadyFinished"
    assert finished["finalStatus"] == "COMPLETED"
    assert posts(sandbox, VELT_DISPATCH) == 1
    assert posts(sandbox, VELT_CANCEL) == 1


async def test_velt_cannot_rerun_and_zaia_cannot_start_without_any_upstream_call(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    rerun = await run(gateway, RERUN, executionId=f"velt:{velt.DOC_EXAMPLE_ID}", idempotencyKey="r")
    assert rerun["__typename"] == "RunActionUnsupported"
    assert rerun["action"] == "RERUN"
    sandbox.stats.reset()
    start = await run(gateway, START, source="zaia", workflowId="x", idempotencyKey="z")
    cancel = await run(gateway, CANCEL, executionId="zaia:anything")
    tl_cancel = await run(gateway, CANCEL, executionId=f"tl:{truthlocks.DEMO_COMPLETED_ID}")
    for result in (start, cancel, tl_cancel):
        assert result["__typename"] == "RunActionUnsupported"
        assert result["code"] == "UNSUPPORTED"
    assert sandbox.stats.total == 0


@pytest.mark.parametrize(
    ("fields", "variant"),
    [
        pytest.param({"agentId": "maip-agent:01JX"}, "A", id="prose"),
        pytest.param({"workflowId": "wf-1", "agents": ["a1", "a2"]}, "B", id="openapi"),
    ],
)
async def test_truthlocks_starts_with_either_documented_request(
    gateway: httpx.AsyncClient, sandbox: Sandbox, fields: dict[str, Any], variant: str
) -> None:
    started = await run(
        gateway, START, source="tl", inputs={"q": 1}, idempotencyKey=f"t-{variant}", **fields
    )
    assert started["__typename"] == "RunControlSuccess", started
    assert started["execution"]["status"] in ("RUNNING", "PENDING")
    native_id = started["executionId"].removeprefix("tl:")
    stored = sandbox.truthlocks.orchestrations[native_id]
    assert ("id" in stored) is (variant == "A")
    assert posts(sandbox, TL_EXECUTE) == 1


async def test_rerun_starts_a_finished_run_again_with_its_inputs(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    again = await run(
        gateway, RERUN, executionId=f"rv:{rotavision.DOC_EXAMPLE_ID}", idempotencyKey="re-1"
    )
    assert again["__typename"] == "RunControlSuccess", again
    native_id = again["executionId"].removeprefix("rv:")
    original = sandbox.rotavision.executions[rotavision.DOC_EXAMPLE_ID]
    assert sandbox.rotavision.executions[native_id]["inputs"] == original["inputs"]
    assert sandbox.rotavision.executions[native_id]["workflow_id"] == original["workflow_id"]
    # Truthlocks: a variant-B run shows its parameters; the prose variant shows no input.
    prose = await run(
        gateway, RERUN, executionId=f"tl:{truthlocks.DEMO_COMPLETED_ID}", idempotencyKey="re-2"
    )
    assert prose["__typename"] == "RunActionUnsupported"
    running = await run(
        gateway, RERUN, executionId=f"rv:{rotavision.DEMO_WAITING_ID}", idempotencyKey="re-3"
    )
    assert running["__typename"] == "RunNotFinished"
    assert posts(sandbox, RV_RUN) == 1
    assert posts(sandbox, TL_EXECUTE) == 0


async def test_refusals_are_typed(gateway: httpx.AsyncClient, sandbox: Sandbox) -> None:
    missing = await run(gateway, CANCEL, executionId="rv:exec_nope")
    assert missing["__typename"] == "RunNotFound"
    no_workflow = await run(
        gateway, START, source="rv", workflowId="wf_nope", inputs={}, idempotencyKey="nf"
    )
    assert no_workflow["__typename"] == "RunNotFound"
    bad_key = await run(gateway, START, source="rv", workflowId="wf", idempotencyKey="a b")
    assert bad_key["__typename"] == "RunInputInvalid"
    assert bad_key["field"] == "idempotencyKey"
    sandbox.faults.update({"mode": "rate_limit", "only": "run"})
    limited = await run(
        gateway, START, source="rv", workflowId="wf_lead_scoring", inputs={}, idempotencyKey="rl"
    )
    assert limited["__typename"] == "RunUpstreamFailure"
    assert limited["code"] == "UPSTREAM_RATE_LIMITED"
    sandbox.faults.update({"mode": "malformed_json", "only": "execute"})
    unsure = await run(gateway, START, source="tl", agentId="a", inputs={}, idempotencyKey="u")
    assert unsure["__typename"] == "RunNotConfirmed"
    assert "may or may not" in unsure["message"]
    # Truthlocks takes no key: a retry with the same key is not sent again.
    sandbox.faults.update({"mode": "none"})
    retry = await run(gateway, START, source="tl", agentId="a", inputs={}, idempotencyKey="u")
    assert retry["__typename"] == "RunNotConfirmed"
    assert posts(sandbox, TL_EXECUTE) == 1


async def test_every_attempt_writes_one_audit_record(
    gateway: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.audit")
    await run(
        gateway,
        START,
        source="rv",
        workflowId="wf_support_triage",
        inputs={},
        idempotencyKey="audit-1",
    )
    await run(gateway, CANCEL, executionId=f"rv:{rotavision.DOC_EXAMPLE_ID}")
    await run(gateway, START, source="zaia", idempotencyKey="audit-2")
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "gateway.audit"]
    records = [r for r in records if r["event"] == "run_control"]
    assert [(r["action"], r["outcome"]) for r in records] == [
        ("start", "started"),
        ("cancel", "already_finished"),
        ("start", "unsupported"),
    ]
    assert records[0]["caller"] == "anonymous"
    assert records[0]["key"] == "audit-1"
    assert records[0]["execution"].startswith("rv:exec_")
    assert records[1]["run"] == f"rv:{rotavision.DOC_EXAMPLE_ID}"
    assert records[1]["final_status"] == "COMPLETED"


async def test_a_started_run_reaches_its_human_step_and_finishes_once_approved(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    """The demo's path: start, the sandbox's progress moves it to its human step, approve."""
    async with gateway_client(sandbox_url, cache={"active_ttl_s": 0}) as gateway:
        await _start_watch_approve(gateway, sandbox)


async def _start_watch_approve(gateway: httpx.AsyncClient, sandbox: Sandbox) -> None:
    started = await run(
        gateway,
        START,
        source="rv",
        workflowId="wf_support_triage",
        inputs={"ticket": "demo"},
        idempotencyKey="demo-1",
    )
    execution_id = started["executionId"]
    progress = Progress(sandbox)
    progress.advance()  # the started run moves first: to its human step
    approval_id = await pending_approval_id(gateway, execution_id)
    decided = await decide(gateway, "approve", approval_id, "go")
    assert decided["__typename"] == "DecisionSuccess"
    assert decided["execution"]["status"] == "COMPLETED"
