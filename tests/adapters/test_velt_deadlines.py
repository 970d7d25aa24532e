"""Velt deadlines: ``slaMs`` from ``definitions/get`` becomes ``Approval.due_at``; a breached step
is a missed approval; the definition is read once per definition (respx, documented payloads)."""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from adapters.base import Credentials
from adapters.engine import HTTPSettings
from adapters.errors import PayloadError
from adapters.model import ApprovalStatus, StepStatus
from adapters.velt import (
    DEFINITION_PATH,
    MAX_SLA_MS,
    VeltAdapter,
    VeltOptions,
    parse_definition,
    parse_execution,
    with_deadlines,
)
from gateway.schema.types import approval_overdue

BASE = "https://velt.test"
GET = "/v2/workflow/executions/get"
STARTED_MS = 1_777_374_600_000
SLA_MS = 3_600_000
STARTED = datetime.fromtimestamp(STARTED_MS / 1000, tz=UTC)
DUE = STARTED + timedelta(milliseconds=SLA_MS)

DEFINITION_DOC_EXAMPLE: dict[str, Any] = {
    "result": {
        "definitionId": "marketing-copy-approval",
        "name": "Marketing copy approval",
        "description": None,
        "version": 1,
        "scope": {"level": "apiKey", "organizationId": None, "documentId": None},
        "nodes": [],
        "edges": [],
        "groups": [],
        "triggers": None,
        "tags": None,
        "custom": None,
        "createdAt": 1731432000000,
        "updatedAt": 1731432000000,
        "status": "active",
    }
}
"""The ``definitions/get`` success example of the vendor's page (its nodes elided there)."""

AGENT_NODE: dict[str, Any] = {
    "nodeId": "brand-check",
    "type": "agent",
    "config": {"agentId": "brand-agent-v1", "blocking": False, "requireNonEmptyOutput": True},
    "slaMs": 3600000,
}
"""The agent node example of "Customize Behavior" (the one the page shows with ``slaMs``)."""

HUMAN_NODE: dict[str, Any] = {
    "nodeId": "human-legal",
    "type": "human",
    "config": {
        "reviewers": [{"userId": "u_legal_01", "mandatory": True}],
        "commentBody": "Please review for legal compliance.",
    },
}
"""The human node example of "Customize Behavior"; every node takes an optional ``slaMs``."""


def definition(version: int = 1, sla_ms: object = SLA_MS) -> dict[str, Any]:
    payload = copy.deepcopy(DEFINITION_DOC_EXAMPLE)
    human = {**copy.deepcopy(HUMAN_NODE), "slaMs": sla_ms}
    payload["result"].update(version=version, nodes=[copy.deepcopy(AGENT_NODE), human])
    return payload


def human_step(status: str = "waiting", **fields: Any) -> dict[str, Any]:
    """A StepView of the ``human-legal`` node, its output as a resolved one documents it."""
    step: dict[str, Any] = {
        "stepId": "step_brand-check_1777374504364_ab12cd34__to__human-legal",
        "nodeId": "human-legal",
        "nodeType": "human",
        "status": status,
        "groupId": None,
        "startedAt": STARTED_MS,
        "completedAt": STARTED_MS + SLA_MS if status == "breached" else None,
        "output": {
            "reviewers": [{"userId": "u_legal_01", "mandatory": True}],
            "reviewerIds": ["u_legal_01"],
        },
        "error": None,
    }
    return {**step, **fields}


def execution_view(
    native_id: str = "exec_1777374504255_xzy43k9q", *, version: int = 1, **step: Any
) -> dict[str, Any]:
    """An ExecutionView like the page's example, blocked on the ``human-legal`` step."""
    return {
        "result": {
            "executionId": native_id,
            "status": "running",
            "startedAt": 1777374504364,
            "completedAt": None,
            "cancelledAt": None,
            "definitionId": "marketing-copy-approval",
            "definitionVersion": version,
            "correlationId": "corr_campaign_42",
            "idempotencyKey": "campaign-42-dispatch",
            "failureReason": None,
            "steps": [human_step(**step)],
        }
    }


def make_adapter(router: respx.Router, *, deadlines: bool = True) -> VeltAdapter:
    adapter = VeltAdapter.create(
        name="velt",
        base_url=BASE,
        credentials=Credentials(api_key="k_secret", auth_token="t_secret"),
        settings=HTTPSettings(timeout_s=1.0, retries=0, breaker_failures=0),
        transport=httpx.MockTransport(router.async_handler),
        options=VeltOptions(deadlines_from_definition=deadlines),
    )
    assert isinstance(adapter, VeltAdapter)
    return adapter


def serve_runs(router: respx.Router, count: int, *, version: int = 1) -> list[str]:
    ids = [f"exec_17773745042{n:02d}_run{n:05d}" for n in range(count)]
    by_id = {native_id: execution_view(native_id, version=version) for native_id in ids}

    def answer(request: httpx.Request) -> httpx.Response:
        native_id = json.loads(request.content)["data"]["executionId"]
        return httpx.Response(200, json=by_id[native_id])

    router.post(GET).mock(side_effect=answer)
    return ids


# --- the pure parts --------------------------------------------------------------------------


def test_the_documented_example_has_a_version_and_no_deadlines() -> None:
    parsed = parse_definition(DEFINITION_DOC_EXAMPLE)
    assert parsed.version == 1
    assert dict(parsed.human_sla_ms) == {}


def test_only_human_nodes_give_deadlines() -> None:
    parsed = parse_definition(definition(version=3))
    assert parsed.version == 3
    assert dict(parsed.human_sla_ms) == {"human-legal": SLA_MS}


@pytest.mark.parametrize("sla", [True, 0, -1, MAX_SLA_MS + 1, "3600000", 3600000.5, None], ids=repr)
def test_an_sla_off_the_documented_range_is_ignored(sla: object) -> None:
    assert dict(parse_definition(definition(sla_ms=sla)).human_sla_ms) == {}


def test_a_definition_without_nodes_is_a_bad_reply() -> None:
    with pytest.raises(PayloadError):
        parse_definition({"result": {"definitionId": "d", "version": 1}})


def test_a_waiting_approval_is_due_its_sla_after_the_step_started() -> None:
    execution = with_deadlines(parse_execution(execution_view()), {"human-legal": SLA_MS})
    (approval,) = execution.approvals
    assert approval.status is ApprovalStatus.PENDING
    assert approval.due_at == DUE
    assert not approval_overdue(approval, execution, DUE - timedelta(seconds=1))
    assert approval_overdue(approval, execution, DUE)
    assert with_deadlines(execution, {"other-node": SLA_MS}).approvals[0].due_at == DUE


def test_a_breached_step_is_a_missed_approval() -> None:
    execution = parse_execution(execution_view(status="breached"))
    (step,) = execution.steps
    (approval,) = execution.approvals
    assert step.status is StepStatus.TIMED_OUT
    assert approval.status is ApprovalStatus.REJECTED
    assert approval.decided_by is None
    assert approval.decided_at == DUE
    assert approval.due_at is None  # no definition read: the miss still shows
    assert approval_overdue(approval, execution, STARTED)
    due = with_deadlines(execution, {"human-legal": SLA_MS})
    assert due.approvals[0].due_at == DUE


def test_a_decided_approval_is_not_overdue() -> None:
    output = {"aggregatorStatus": "resolved", "decision": "approve", "approved": True}
    execution = with_deadlines(
        parse_execution(
            execution_view(status="completed", completedAt=STARTED_MS + 60_000, output=output)
        ),
        {"human-legal": SLA_MS},
    )
    (approval,) = execution.approvals
    assert approval.status is ApprovalStatus.APPROVED
    assert approval.due_at == DUE
    assert not approval_overdue(approval, execution, DUE + timedelta(days=1))


# --- the adapter over HTTP -------------------------------------------------------------------


async def test_one_definition_read_serves_many_runs() -> None:
    router = respx.Router(base_url=BASE)
    ids = serve_runs(router, 12)
    read = router.post(DEFINITION_PATH).respond(200, json=definition())
    adapter = make_adapter(router)
    together = await asyncio.gather(*(adapter.get_execution(i) for i in ids[:6]))
    one_by_one = [await adapter.get_execution(i) for i in ids[6:]]
    await adapter.aclose()
    assert read.call_count == 1
    assert json.loads(read.calls.last.request.content) == {
        "data": {"definitionId": "marketing-copy-approval"}
    }
    assert read.calls.last.request.headers["x-velt-auth-token"] == "t_secret"
    assert {e.approvals[0].due_at for e in [*together, *one_by_one]} == {DUE}


async def test_a_run_pinned_to_an_old_version_gets_no_deadline() -> None:
    router = respx.Router(base_url=BASE)
    ids = serve_runs(router, 3, version=1)
    read = router.post(DEFINITION_PATH).respond(200, json=definition(version=2))
    adapter = make_adapter(router)
    found = [await adapter.get_execution(i) for i in ids]
    await adapter.aclose()
    assert [e.approvals[0].due_at for e in found] == [None, None, None]
    assert read.call_count == 1


async def test_a_run_pinned_to_a_newer_version_reads_the_definition_again() -> None:
    router = respx.Router(base_url=BASE)
    router.post(GET).mock(
        side_effect=[
            httpx.Response(200, json=execution_view("exec_1", version=1)),
            httpx.Response(200, json=execution_view("exec_2", version=2)),
            httpx.Response(200, json=execution_view("exec_3", version=2)),
        ]
    )
    read = router.post(DEFINITION_PATH).mock(
        side_effect=[
            httpx.Response(200, json=definition(version=1)),
            httpx.Response(200, json=definition(version=2, sla_ms=2 * SLA_MS)),
        ]
    )
    adapter = make_adapter(router)
    first = await adapter.get_execution("exec_1")
    second = await adapter.get_execution("exec_2")
    third = await adapter.get_execution("exec_3")
    await adapter.aclose()
    assert first.approvals[0].due_at == DUE
    assert second.approvals[0].due_at == third.approvals[0].due_at == DUE + timedelta(hours=1)
    assert read.call_count == 2


async def test_a_definition_that_is_gone_is_not_asked_for_again() -> None:
    router = respx.Router(base_url=BASE)
    ids = serve_runs(router, 3)
    gone = {"error": {"message": "Definition not found", "status": "NOT_FOUND"}}
    read = router.post(DEFINITION_PATH).respond(404, json=gone)
    adapter = make_adapter(router)
    found = [await adapter.get_execution(i) for i in ids]
    await adapter.aclose()
    assert [e.approvals[0].status for e in found] == [ApprovalStatus.PENDING] * 3
    assert [e.approvals[0].due_at for e in found] == [None] * 3
    assert read.call_count == 1


async def test_an_unavailable_definition_degrades_and_is_asked_again() -> None:
    router = respx.Router(base_url=BASE)
    ids = serve_runs(router, 2)
    down = {"error": {"message": "try later", "status": "UNAVAILABLE"}}
    read = router.post(DEFINITION_PATH).mock(
        side_effect=[httpx.Response(503, json=down), httpx.Response(200, json=definition())]
    )
    adapter = make_adapter(router)
    first = await adapter.get_execution(ids[0])
    second = await adapter.get_execution(ids[1])
    await adapter.aclose()
    assert first.approvals[0].due_at is None
    assert second.approvals[0].due_at == DUE
    assert read.call_count == 2


async def test_without_the_option_or_an_approval_no_definition_is_read() -> None:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    ids = serve_runs(router, 1)
    read = router.post(DEFINITION_PATH).respond(200, json=definition())
    adapter = make_adapter(router, deadlines=False)
    off = await adapter.get_execution(ids[0])
    await adapter.aclose()
    assert off.approvals[0].due_at is None

    router = respx.Router(base_url=BASE, assert_all_called=False)
    agent_only = execution_view(nodeType="agent", nodeId="brand-check")
    router.post(GET).respond(200, json=agent_only)
    read_again = router.post(DEFINITION_PATH).respond(200, json=definition())
    adapter = make_adapter(router)
    no_approval = await adapter.get_execution("exec_1777374504255_xzy43k9q")
    await adapter.aclose()
    assert no_approval.approvals == ()
    assert read.call_count == read_again.call_count == 0


# --- the source option -----------------------------------------------------------------------


def test_the_option_is_off_by_default_and_velt_only() -> None:
    from gateway.config import ConfigError, parse_config

    velt = {
        "name": "velt",
        "kind": "velt",
        "base_url": "http://x",
        "api_key_env": "K",
        "auth_token_env": "T",
    }
    env = {"K": "k", "T": "t"}
    (default,) = parse_config({"sources": [velt]}, env).sources
    (on,) = parse_config({"sources": [velt | {"deadlines_from_definition": True}]}, env).sources
    assert (default.options, on.options) == (VeltOptions(), VeltOptions(True))
    rotavision = {"name": "rv", "kind": "rotavision", "base_url": "http://x", "api_key_env": "K"}
    with pytest.raises(ConfigError) as caught:
        parse_config({"sources": [rotavision | {"deadlines_from_definition": True}]}, env)
    assert caught.value.problems == (
        "source \"rv\": deadlines_from_definition: only 'velt' sources have it",
    )
